// The table of subcommands. Each entry loads its module lazily so `trellis analyze` never pays for the proxy.
export interface Command {
  summary: string;
  /** Resolves to the exit code. */
  load: () => Promise<{ run(args: string[]): Promise<number> }>;
}

export const commandTable: Record<string, Command> = {
  analyze: { summary: "validate Istio configuration files (as istioctl analyze does)", load: () => import("./analyze.js") },
  control: { summary: "run the control plane (store, discovery, xDS, REST API, CA)", load: () => import("./control.js") },
  apply: { summary: "create or replace Istio resources from files", load: () => import("./apply.js") },
  get: { summary: "list or show Istio resources", load: () => import("./get.js") },
  delete: { summary: "delete Istio resources", load: () => import("./delete.js") },
  "proxy-config": { summary: "a proxy's listeners, routes, clusters, endpoints or secrets", load: () => import("./proxy-config.js") },
  up: { summary: "start the control plane and CA on Istio's ports", load: () => import("./up.js") },
  "proxy-status": { summary: "each proxy's xDS sync state", load: () => import("./proxy-status.js") },
  demo: { summary: "run the Bookinfo demo mesh on this machine", load: () => import("./demo.js") },
  run: { summary: "run a workload with its sidecar (explicit mode)", load: () => import("./run.js") },
  cleanup: { summary: "remove namespaces and rules a crashed transparent-mode run left", load: () => import("./cleanup.js") },
  proxy: { summary: "run the sidecar/gateway proxy from an Envoy bootstrap", load: () => import("./proxy.js") },
  dashboard: { summary: "print (and open) the web console's address", load: () => import("./dashboard.js") },
  "prometheus-config": { summary: "a Prometheus scrape config for every connected proxy", load: () => import("./prometheus-config.js") },
  ca: { summary: "the mesh CA's roots, and rotating the root without dropping a connection", load: () => import("./ca.js") },
  gateway: { summary: "run an ingress or egress gateway proxy (universal mode)", load: () => import("./gateway.js") },
  secret: { summary: "TLS secrets for gateway servers' credentialName (create, get, delete)", load: () => import("./secret.js") },
  "install-crds": { summary: "install Istio's CRDs in a Kubernetes cluster (for trellis control --kubeconfig)", load: () => import("./install-crds.js") },
  install: { summary: "install or upgrade the control plane in Kubernetes from the Helm chart (as istioctl install)", load: () => import("./install.js") },
  manifest: { summary: "print the Kubernetes objects the chart installs (manifest generate, as istioctl's)", load: () => import("./manifest.js") },
  dashboards: { summary: "export Grafana dashboards made from the console's PromQL", load: () => import("./dashboards.js") },
  "kube-inject": { summary: "add the sidecar to Kubernetes manifests offline (as istioctl kube-inject)", load: () => import("./kube-inject.js") },
  "istio-iptables": { summary: "install the interception rules in this network namespace (the injected init step)", load: () => import("./istio-iptables.js") },
  token: { summary: "issue a bootstrap token for a workload's certificate (universal mode)", load: () => import("./token.js") },
};

function usage(table: Record<string, Command>): string {
  const width = Math.max(...Object.keys(table).map((n) => n.length), 4);
  const lines = Object.entries(table).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `usage: trellis COMMAND [ARGS]\n\ncommands:\n${lines.join("\n")}\n\nRun "trellis COMMAND --help" for a command's options.`;
}

export async function runCommand(table: Record<string, Command>, name: string | undefined, args: string[]): Promise<number> {
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage(table));
    return name ? 0 : 2;
  }
  const command = table[name];
  if (!command) {
    console.error(`trellis: unknown command "${name}"\n\n${usage(table)}`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(args);
}
