// `trellis proxy-config listeners|routes|clusters|endpoints|secrets PROXY`: a proxy's live config, read from its admin.
import { parseArgs } from "node:util";
import { call, controlAddress } from "./rest-client.js";

const USAGE = `usage: trellis proxy-config listeners|routes|clusters|endpoints|secrets PROXY [-o json|short] [--control HOST:PORT]

PROXY is a proxy's node id or its prefix (as proxy-status lists them). The config comes from the proxy's own admin
endpoint (/config_dump, /certs), whose address the proxy registered with the control plane.`;

const SECTIONS: Record<string, string> = {
  listeners: "ListenersConfigDump", routes: "RoutesConfigDump", clusters: "ClustersConfigDump", endpoints: "EndpointsConfigDump",
};

type Json = Record<string, unknown>;

function shortRows(kind: string, dump: Json): string[] {
  const pick = (k: string) => (dump[k] as Json[] | undefined) ?? [];
  switch (kind) {
    case "listeners":
      return [...pick("static_listeners"), ...pick("dynamic_listeners")].map((l) => {
        const listener = ((l.active_state as Json | undefined)?.listener ?? l.listener ?? l) as Json;
        const sa = ((listener.address as Json | undefined)?.socket_address ?? {}) as Json;
        return `${String(listener.name).padEnd(40)} ${sa.address}:${sa.port_value}`;
      });
    case "clusters":
      return [...pick("static_clusters"), ...pick("dynamic_active_clusters")].map((c) => {
        const cluster = (c.cluster ?? c) as Json;
        // TLS to every host, or (auto mTLS) to the hosts whose tlsMode metadata picks a TLS transport_socket_matches entry.
        const matches = (cluster.transport_socket_matches as Json[] | undefined) ?? [];
        const tls = cluster.transport_socket ? "  mTLS" : matches.some((m) => String((m.transport_socket as Json | undefined)?.name ?? "").endsWith("tls")) ? "  mTLS (auto)" : "";
        return `${String(cluster.name).padEnd(70)} ${cluster.type ?? "STATIC"}${tls}`;
      });
    case "routes":
      return pick("dynamic_route_configs").flatMap((r) => {
        const rc = r.route_config as Json;
        return ((rc.virtual_hosts as Json[]) ?? []).map((vh) => `${String(rc.name).padEnd(50)} ${String(vh.name).padEnd(40)} ${((vh.routes as Json[]) ?? []).length} route(s)`);
      });
    case "endpoints":
      return pick("dynamic_endpoint_configs").flatMap((e) => {
        const cla = e.endpoint_config as Json;
        return ((cla.endpoints as Json[]) ?? []).flatMap((g) => ((g.lb_endpoints as Json[]) ?? []).map((lb) => {
          const sa = (((lb.endpoint as Json).address as Json).socket_address as Json);
          return `${`${sa.address}:${sa.port_value}`.padEnd(24)} ${String(lb.health_status ?? "HEALTHY").padEnd(10)} ${cla.cluster_name}`;
        }));
      });
    default:
      return [];
  }
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { output: { type: "string", short: "o", default: "short" }, control: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (parsed.values.help) { console.log(USAGE); return 0; }
    const [kind] = parsed.positionals;
    if (parsed.positionals.length !== 2 || !(kind in SECTIONS || kind === "secrets")) throw new Error("give one of listeners, routes, clusters, endpoints, secrets and a proxy");
    if (!["json", "short"].includes(parsed.values.output!)) throw new Error(`-o "${parsed.values.output}" must be json or short`);
  } catch (err) {
    console.error(`trellis proxy-config: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [kind, name] = parsed.positionals;
  try {
    const proxies = (await call(controlAddress(parsed.values.control), "GET", "/debug/proxies")).body as unknown as Array<{ node: { id: string }; workload?: { adminAddress?: string } }>;
    const matches = proxies.filter((p) => p.node.id === name || p.node.id.startsWith(name));
    if (matches.length !== 1) {
      console.error(`trellis proxy-config: ${matches.length === 0 ? "no proxy" : "several proxies"} match "${name}"; known: ${proxies.map((p) => p.node.id).join(", ") || "none"}`);
      return 1;
    }
    const admin = matches[0].workload?.adminAddress;
    if (!admin) {
      console.error(`trellis proxy-config: ${matches[0].node.id} did not register an admin address (node metadata ADMIN_ADDRESS)`);
      return 1;
    }
    if (kind === "secrets") {
      const certs = (await (await fetch(`http://${admin}/certs`)).json()) as { certificates: Array<{ name: string; uri_sans: string[]; expiration_time: string; serial: string; ca: boolean; sha256_fingerprint: string; issuer_root_sha256?: string }> };
      if (parsed.values.output === "json") console.log(JSON.stringify(certs, null, 2));
      else {
        // ROOT: a CA entry's own fingerprint, a certificate's issuing root; they match when the proxy is current.
        const root = (c: { ca: boolean; sha256_fingerprint: string; issuer_root_sha256?: string }) => (c.ca ? c.sha256_fingerprint : c.issuer_root_sha256 ?? "-").slice(0, 17);
        console.log(`${"RESOURCE NAME".padEnd(16)}${"TYPE".padEnd(12)}${"IDENTITY".padEnd(56)}${"SERIAL".padEnd(36)}${"NOT AFTER".padEnd(26)}ROOT SHA256`);
        for (const c of certs.certificates) console.log(`${c.name.padEnd(16)}${(c.ca ? "CA" : "Cert Chain").padEnd(12)}${(c.uri_sans[0] ?? "-").padEnd(56)}${c.serial.padEnd(36)}${c.expiration_time.padEnd(26)}${root(c)}`);
      }
      return 0;
    }
    const dump = (await (await fetch(`http://${admin}/config_dump`)).json()) as { configs: Json[] };
    const section = dump.configs.find((c) => String(c["@type"]).endsWith(SECTIONS[kind])) ?? {};
    if (parsed.values.output === "json") console.log(JSON.stringify(section, null, 2));
    else for (const row of shortRows(kind, section)) console.log(row);
    return 0;
  } catch (err) {
    console.error(`trellis proxy-config: ${(err as Error).message}`);
    return 1;
  }
}
