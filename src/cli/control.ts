// `trellis control`: runs the control plane (config store, discovery, xDS, REST API, CA) until SIGTERM.
import { parseArgs } from "node:util";
import { collectorUrlFlag, dnsServerFlag, durationFlag, httpUrlFlag, percentFlag, portFlag } from "./flags.js";
import { existsSync, readFileSync } from "node:fs";
import { ControlPlane, type ControlPlaneOptions } from "../app/control-plane.js";
import { type MeshConfig, parseMeshConfig } from "../control/mesh-config.js";
import { kubeConnection, KubeMode } from "../control/kube/kube-mode.js";
import { replicaFromFlags, type ReplicaSetup, type StoreFlags } from "../control/ha/replica-flags.js";
import { loadInjectSettings } from "../control/kube/inject/load-settings.js";
import { type CompiledHealthConfig, HealthConfigError, parseHealthConfig } from "../telemetry/metrics/health-config.js";

const USAGE = `usage: trellis control [--state-dir DIR] [--host ADDR] [--xds-port N] [--api-port N] [--ca-port N [--ca-plugin-dir DIR]]
                       [--otlp-port N] [--trace-sampling PERCENT] [--otlp-collector URL] [--trace-store DIR] [--jaeger-url URL]
                       [--scrape-interval DURATION] [--prometheus-url URL] [--health-config FILE] [--console-port N] [--mesh-config FILE]
                       [--config-dir DIR] [--dns-resolver IP:PORT]... [--kubeconfig FILE [--kube-context NAME]]
                       [--webhook-port N] [--webhook-url URL] [--inject-values FILE] [--allowed-host NAME]...
                       [--store etcd://HOST:PORT,... --store-key FILE [--etcd-cacert FILE [--etcd-cert FILE --etcd-key FILE]]]

Serves ADS (xDS v3) on 15010, the REST API on 15014 and, with --ca-port, the CSR API (and ADS) over TLS (Istio
uses 15012). Ports 0 pick free ones; the chosen ports are printed. Resources persist under --state-dir
(default ./.trellis). Everything binds to 127.0.0.1 unless --host says otherwise; off loopback the REST API
requires the token in STATE_DIR/api-token, and plaintext xDS serves loopback peers only. The REST API and the
console answer Host names that are IP addresses or localhost, and each --allowed-host NAME (DNS rebinding);
writes must be same-origin and application/json.
CA: a root is made under STATE_DIR/ca on first start, or --ca-plugin-dir names Istio's plug-in files (ca-cert.pem,
ca-key.pem, root-cert.pem, cert-chain.pem) and the CA signs as that intermediate under your own root. With the CA
on, every xDS stream proves its identity with a bootstrap token (trellis run mints them; trellis token create).

Tracing: sidecars sample --trace-sampling percent of requests (default 1, as Istio) and send spans over OTLP/HTTP
to the embedded trace store on 127.0.0.1:--otlp-port (default 4318; it takes spans unauthenticated, so it never
leaves loopback), or to the collector at --otlp-collector. --trace-store DIR keeps the embedded store's traces on
disk too (0600 files, oldest dropped past its 256 MiB bound) so they survive a restart. The REST API also answers
Jaeger's query API (/api/services, /api/traces...) for Grafana and Kiali; --jaeger-url URL makes the console's trace
links open that Jaeger UI. MeshConfig extensionProviders (zipkin, opentelemetry, envoyFileAccessLog, prometheus),
defaultProviders and Telemetry resources choose tracers, sampling and access logs per mesh, namespace and workload.
Metrics: every proxy is scraped each --scrape-interval (default 15s) into the embedded store; with
--prometheus-url, the telemetry API queries that Prometheus instead (see trellis prometheus-config).
--health-config FILE sets health tolerances as Kiali's health_config does (rate: [{namespace, kind, name,
tolerance: [{code, protocol, direction, degraded, failure}]}], regular expressions matched whole, percentages); the
first rule matching an app, workload or service applies. Default: Degraded from 0.1 % errors, Failure from 20 %.
The web console is served on --console-port (default 20001).
--mesh-config reads Istio's MeshConfig (the bare document or istio's ConfigMap {mesh: ...}): accessLogFile and
accessLogEncoding (TEXT or JSON) turn on every sidecar's access log; enableTracing, defaultConfig.tracing.sampling
(--trace-sampling wins over it) and rootNamespace are honoured too, and localityLbSetting (locality load balancing
for services whose DestinationRule sets none; failover is on by default wherever outlier detection is).
--config-dir applies the YAML under DIR and keeps it applied (GitOps): edits are picked up within 2 s, a resource
whose file no longer defines it is deleted, and a file that does not parse or validate is reported with its line
while the version applied before keeps serving.
--dns-resolver points every sidecar's DNS clusters (ServiceEntry resolution DNS and DNS_ROUND_ROBIN) at this DNS
server instead of each proxy's system resolver; repeat it for more servers. MeshConfig dnsRefreshRate (default 60s)
sets how often names are re-resolved when their records carry no TTL.
Kubernetes: with --kubeconfig (its current context, or --kube-context), or with no flag inside a pod (its service
account), the API server is the store (Istio's CRDs: trellis install-crds; the Gateway API's kinds too, once their
own CRDs are installed) and the registry (Services, EndpointSlices, Pods, Nodes, Namespaces; MeshConfig
discoverySelectors limit the namespaces). --state-dir then
holds only the CA and tokens. An API server that cannot be reached is retried with backoff while serving.
With the CA on in Kubernetes mode, proxies prove themselves with their pod's service-account token (audience
istio-ca, checked by TokenReview); the replica holding the Lease trellis-control-leader (in $POD_NAMESPACE, default
istio-system) writes the istio-ca-root-cert ConfigMap into every namespace and registers the validating webhook,
which every replica serves over TLS on --webhook-port (default 15017): the API server calls it through the Service
istiod.NAMESPACE.svc:443, or at --webhook-url (https://HOST:PORT/validate; port 0 = the one bound). The same server
injects sidecars on /inject (MutatingWebhookConfiguration istio-sidecar-injector[-REV], written by the leader);
--inject-values reads Istio's Helm values for it (global.proxy.image and resources, revision, meshConfig.defaultConfig,
sidecarInjectorWebhook.nativeSidecar), as trellis kube-inject --injectConfigFile does. A revision other than default
is called through Service istiod-REV: the webhook certificate names istiod-REV.NAMESPACE.svc too, and its replicas
elect their leader with the Lease trellis-control-leader-REV.
The permissions this needs are in manifests/control-plane-rbac.yaml.
Replicas: --store etcd://HOST:PORT,... keeps resources, the CA's material and proxies' registrations in etcd (v3),
every value sealed with AES-256-GCM under --store-key FILE (32 random bytes, hex or base64, mode 0600; the same file
on every replica: a replica with another key refuses to start). Each replica serves xDS, the CA and the REST API;
a write to any reaches every replica's proxies; --config-dir is applied by the replica holding the leader key. An
etcd that cannot be reached at start is retried. Each replica needs a --state-dir of its own (a directory in use
by a live control plane is refused). --etcd-cacert checks the members' TLS certificates (https client URLs), and
--etcd-cert/--etcd-key give the client certificate members started with --client-cert-auth ask for.`;

/** --health-config FILE: Kiali's health tolerances, refused with the field to fix. */
function healthConfigFlag(file: string | undefined): CompiledHealthConfig | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`--health-config: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseHealthConfig(text, file);
  } catch (err) {
    if (err instanceof HealthConfigError) throw new Error(`--health-config ${err.message}`, { cause: err });
    throw err;
  }
}

/** Kubernetes mode with the CA: TokenReview identity, the webhook, leader-only work; the webhook flags need both. */
function kubeIdentityFlags(opts: ControlPlaneOptions, port: string | undefined, url: string | undefined, injectValues: string | undefined): ControlPlaneOptions["kubeIdentity"] {
  if (!opts.kube || opts.caPort === undefined) {
    if (port !== undefined || url !== undefined || injectValues !== undefined) throw new Error("--webhook-port, --webhook-url and --inject-values need Kubernetes mode (--kubeconfig) and the CA (--ca-port)");
    return undefined;
  }
  if (url !== undefined && !/^https:\/\/[^/]+(\/.*)?$/.test(url)) throw new Error(`--webhook-url "${url}" must be https://HOST:PORT/PATH (the API server calls webhooks over TLS only)`);
  const namespace = process.env.POD_NAMESPACE || "istio-system";
  const settings = loadInjectSettings({ namespace, values: injectValues === undefined ? undefined : { flag: "--inject-values", file: injectValues } });
  return { client: opts.kube.client, namespace, webhook: { host: opts.host, port: portFlag("--webhook-port", port, 15017), url, dnsNames: revisionDnsNames(namespace, settings.revision), inject: { settings: () => settings } },
    // Each revision elects its own leader: the leader writes its revision's injector registration.
    ...(settings.revision && settings.revision !== "default" ? { election: { name: `trellis-control-leader-${settings.revision}` } } : {}) };
}

/** A revision's webhooks are called through its Service istiod-REV, so its certificate names that Service too. */
function revisionDnsNames(namespace: string, revision: string): string[] {
  return revision && revision !== "default" ? [`istiod-${revision}.${namespace}.svc`] : [];
}

/** --ca-plugin-dir: Istio's cacerts files, which only matter with the CA on. */
function pluginDirFlag(dir: string | undefined, caPort: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  if (caPort === undefined) throw new Error("--ca-plugin-dir needs --ca-port (the CA it configures)");
  if (!existsSync(dir)) throw new Error(`--ca-plugin-dir: ${dir} does not exist; it holds Istio's ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem`);
  return dir;
}

/** Kubernetes mode from --kubeconfig, or in a pod; MeshConfig discoverySelectors only mean something there. */
function kubeModeFlag(kubeconfig: string | undefined, context: string | undefined, mesh: MeshConfig | undefined): KubeMode | undefined {
  const connection = kubeConnection(kubeconfig, context);
  if (!connection) {
    if (mesh?.discoverySelectors) throw new Error("--mesh-config: discoverySelectors apply in Kubernetes mode only: add --kubeconfig FILE or remove them");
    return undefined;
  }
  return new KubeMode(connection, { discoverySelectors: mesh?.discoverySelectors });
}

export async function run(args: string[]): Promise<number> {
  let opts: ControlPlaneOptions & { host: string };
  let storeFlags: StoreFlags;
  try {
    const { values } = parseArgs({ args, options: {
      "state-dir": { type: "string", default: ".trellis" },
      host: { type: "string", default: "127.0.0.1" },
      "allowed-host": { type: "string", multiple: true },
      "xds-port": { type: "string" },
      "api-port": { type: "string" },
      "ca-port": { type: "string" },
      "ca-plugin-dir": { type: "string" },
      "otlp-port": { type: "string" },
      "trace-sampling": { type: "string" },
      "otlp-collector": { type: "string" },
      "scrape-interval": { type: "string" },
      "prometheus-url": { type: "string" },
      "health-config": { type: "string" },
      "console-port": { type: "string" },
      "mesh-config": { type: "string" },
      "trace-store": { type: "string" },
      "jaeger-url": { type: "string" },
      "config-dir": { type: "string" },
      "dns-resolver": { type: "string", multiple: true },
      kubeconfig: { type: "string" },
      "kube-context": { type: "string" },
      "webhook-port": { type: "string" },
      "webhook-url": { type: "string" },
      "inject-values": { type: "string" },
      store: { type: "string" },
      "store-key": { type: "string" },
      "etcd-cacert": { type: "string" },
      "etcd-cert": { type: "string" },
      "etcd-key": { type: "string" },
      help: { type: "boolean", short: "h" },
    } });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    let mesh: MeshConfig | undefined;
    if (values["mesh-config"] !== undefined) {
      let text: string;
      try {
        text = readFileSync(values["mesh-config"], "utf8");
      } catch (err) {
        throw new Error(`--mesh-config: cannot read ${values["mesh-config"]}: ${(err as Error).message}`, { cause: err });
      }
      const parsed = parseMeshConfig(text, values["mesh-config"]);
      if (!parsed.ok) throw new Error(`--mesh-config is not valid:\n  ${parsed.errors.join("\n  ")}`);
      mesh = parsed.value;
    }
    opts = { allowedHosts: values["allowed-host"], mesh, configDir: values["config-dir"], stateDir: values["state-dir"]!, host: values.host!, xdsPort: portFlag("--xds-port", values["xds-port"], 15010), apiPort: portFlag("--api-port", values["api-port"], 15014), caPort: portFlag("--ca-port", values["ca-port"]), caPluginDir: pluginDirFlag(values["ca-plugin-dir"], values["ca-port"]),
      otlpPort: portFlag("--otlp-port", values["otlp-port"], 4318), traceSamplingPercent: values["trace-sampling"] === undefined ? undefined : percentFlag("--trace-sampling", values["trace-sampling"], 1),
      otlpCollectorUrl: collectorUrlFlag("--otlp-collector", values["otlp-collector"]), traceStoreDir: values["trace-store"] || undefined, jaegerUrl: httpUrlFlag("--jaeger-url", values["jaeger-url"]),
      scrapeIntervalMs: durationFlag("--scrape-interval", values["scrape-interval"], 15_000, 1000), prometheusUrl: httpUrlFlag("--prometheus-url", values["prometheus-url"]),
      healthConfig: healthConfigFlag(values["health-config"]),
      consolePort: portFlag("--console-port", values["console-port"], 20001),
      dnsResolvers: (values["dns-resolver"] ?? []).map((v) => dnsServerFlag("--dns-resolver", v)),
      kube: kubeModeFlag(values.kubeconfig, values["kube-context"], mesh) };
    opts.kubeIdentity = kubeIdentityFlags(opts, values["webhook-port"], values["webhook-url"], values["inject-values"]);
    storeFlags = { store: values.store, storeKey: values["store-key"], etcdCacert: values["etcd-cacert"], etcdCert: values["etcd-cert"], etcdKey: values["etcd-key"] };
  } catch (err) {
    console.error(`trellis control: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let replica: ReplicaSetup;
  try {
    replica = await replicaFromFlags(storeFlags, opts);
  } catch (err) {
    console.error(`trellis control: ${(err as Error).message}`);
    return 1;
  }
  const cp = new ControlPlane({ ...opts, ...replica.options });
  try {
    await replica.attach(cp);
    await cp.start();
  } catch (err) {
    console.error(`trellis control: ${(err as Error).message}`);
    await cp.stop();
    await replica.stop();
    return 1;
  }
  console.log(`xds listening on ${opts.host}:${cp.ports.xds}`);
  console.log(`api listening on ${opts.host}:${cp.ports.api}`);
  if (cp.ports.ca) console.log(`ca listening on ${opts.host}:${cp.ports.ca}`);
  if (cp.ports.webhook) console.log(`webhook listening on ${opts.host}:${cp.ports.webhook}`);
  console.log(`otlp listening on ${opts.host}:${cp.ports.otlp}`);
  console.log(`console listening on http://${opts.host}:${cp.ports.console}/`);
  return new Promise((resolve) => {
    const stop = () => cp.stop().then(() => replica.stop()).then(() => resolve(0), () => resolve(1));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}
