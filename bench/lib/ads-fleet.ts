// A fleet of simulated sidecars in ONE process of its own (so their CPU is not the control plane's): each speaks real
// state-of-the-world ADS through the proxy's own client (src/xds/ads-client.ts: nonces, an ACK per response, EDS and
// RDS subscriptions following CDS and LDS) with node metadata that registers it as a transparent-mode sidecar of a
// service. Driven over IPC: it reports "synced" once every client holds the whole mesh, then, per "watch", the moment
// each client ACKed the route configuration (or, for an endpoint watch, the watched cluster's endpoints) carrying
// the watched marker.
import * as grpc from "@grpc/grpc-js";
import { AdsClient } from "../../src/xds/ads-client.js";
import { decodeAny, type AnyValue, type ResourceKind } from "../../src/xds/resource.js";

export interface FleetOptions {
  target: string;
  /** Bootstrap tokens by the service their proxy serves (a token allows one service). */
  tokens: Record<string, string>;
  count: number;
  namespace: string;
  serviceAccount: string;
  /** The services the sidecars belong to (client i serves services[i % length]). */
  services: string[];
  /** Synced when every client holds at least this many outbound clusters. */
  expectClusters: number;
  /** The hostname whose route configuration carries the marker. */
  watchHost: string;
  /** The EDS cluster whose endpoints carry the marker in an endpoint watch. */
  watchCluster?: string;
  /** The first two octets of the sidecars' addresses (default 127.2; kube-push uses its pods' 10.245). */
  ipPrefix?: string;
  /** State of the world (default) or incremental xDS (Delta ADS): what each sidecar is sent and decodes per push. */
  protocol?: "sotw" | "delta";
}

export type FleetMessage =
  | { type: "synced"; clusters: number; routes: number; ms: number }
  | { type: "watching"; marker: string; kind: WatchKind }
  | { type: "acked"; marker: string; times: number[]; missing: number }
  | { type: "error"; message: string };

type Json = Record<string, unknown>;
export type WatchKind = "route" | "endpoint";

const now = () => performance.timeOrigin + performance.now();
const send = (m: FleetMessage) => process.send!(m);

/** The RDS names a listener's connection managers ask for (nested typed_config may arrive still packed as an Any). */
function routeNames(listener: Json): string[] {
  const out: string[] = [];
  for (const chain of (listener.filter_chains as Json[] | undefined) ?? []) {
    for (const filter of (chain.filters as Json[] | undefined) ?? []) {
      let config = filter.typed_config as Json | undefined;
      if (config && config.type_url && config.value) {
        const decoded = decodeAny(config as unknown as AnyValue);
        config = decoded.ok ? decoded.value : undefined;
      }
      const name = (config?.rds as Json | undefined)?.route_config_name;
      if (typeof name === "string" && name) out.push(name);
    }
  }
  return out;
}

class Sidecar {
  readonly client: AdsClient;
  clusters = 0;
  edsNames: string[] = [];
  rdsNames: string[] = [];
  watched = false;
  marker = "";
  watchKind: WatchKind = "route";
  ackedAt = 0;

  constructor(readonly index: number, options: FleetOptions, onChange: () => void) {
    const service = options.services[index % options.services.length];
    const ip = `${options.ipPrefix ?? "127.2"}.${index >> 8}.${index & 255}`;
    this.client = new AdsClient({
      target: options.target,
      protocol: options.protocol ?? "sotw",
      // A connection per sidecar, as real ones have: grpc-js would otherwise share one HTTP/2 connection among the
      // fleet, and the control plane allows 16 streams per connection (src/control/ca/grpc-limits.ts).
      channelOptions: { "grpc.use_local_subchannel_pool": 1 },
      metadata: () => {
        const md = new grpc.Metadata();
        md.set("authorization", `Bearer ${options.tokens[service]}`);
        return md;
      },
      node: {
        id: `sidecar~${ip}~${service}-${index}.${options.namespace}~${options.namespace}.svc.cluster.local`,
        cluster: `${service}.${options.namespace}`,
        metadata: {
          NAMESPACE: options.namespace, WORKLOAD_NAME: `${service}-${index}`, SERVICE: service, LABELS: { app: service, version: "v1" },
          SERVICE_ACCOUNT: options.serviceAccount, INSTANCE_IP: ip, INBOUND_PORT: 15006, APP_PORT: 8080,
          SERVICE_PORTS: [{ port: 8080, name: "http", protocol: "HTTP" }], INTERCEPTION_MODE: "REDIRECT", READY: true, MTLS_READY: true,
        },
      },
      subscriptions: () => ({ endpoint: this.edsNames, route: this.rdsNames, secret: [] }),
      backoff: { baseMs: 200, maxMs: 2000 },
      apply: (kind: ResourceKind, resources: Map<string, unknown>) => {
        if (kind === "cluster") {
          const list = [...resources.values()] as Json[];
          this.clusters = list.filter((c) => String(c.name).startsWith("outbound|")).length;
          this.edsNames = list.filter((c) => c.type === "EDS").map((c) => String((c.eds_cluster_config as Json | undefined)?.service_name ?? c.name));
        } else if (kind === "listener") {
          this.rdsNames = [...resources.values()].flatMap((l) => routeNames(l as Json));
        } else if (kind === "endpoint" && this.watchKind === "endpoint" && options.watchCluster) {
          const assignment = resources.get(options.watchCluster);
          if (this.marker && !this.ackedAt && assignment && JSON.stringify(assignment).includes(this.marker)) this.ackedAt = now();
        } else if (kind === "route") {
          for (const [name, route] of resources) {
            if (!name.includes(`|${options.watchHost}|`)) continue;
            this.watched = true;
            // Recorded as the ACK goes out: AdsClient writes it as soon as apply() returns.
            if (this.watchKind === "route" && this.marker && !this.ackedAt && JSON.stringify(route).includes(this.marker)) this.ackedAt = now();
          }
        }
        onChange();
        return { ok: true, value: undefined };
      },
    });
  }
}

function main(): void {
  const options = JSON.parse(process.argv[2]) as FleetOptions;
  const started = now();
  let synced = false;
  let watch: { marker: string; timer: NodeJS.Timeout } | undefined;
  const onChange = () => {
    if (!synced && fleet.length === options.count && fleet.every((s) => s.clusters >= options.expectClusters && s.watched)) {
      synced = true;
      send({ type: "synced", clusters: fleet[0].clusters, routes: fleet[0].rdsNames.length, ms: now() - started });
    }
    if (watch && fleet.every((s) => s.ackedAt > 0)) finish();
  };
  const finish = () => {
    if (!watch) return;
    const times = fleet.map((s) => s.ackedAt).filter((t) => t > 0).sort((a, b) => a - b);
    clearTimeout(watch.timer);
    send({ type: "acked", marker: watch.marker, times, missing: fleet.length - times.length });
    watch = undefined;
  };
  const fleet: Sidecar[] = [];
  for (let i = 0; i < options.count; i++) fleet.push(new Sidecar(i, options, onChange));
  for (const s of fleet) s.client.start();
  process.on("message", (m: { type: "watch"; marker: string; kind?: WatchKind; timeoutMs: number } | { type: "close" }) => {
    if (m.type === "close") {
      for (const s of fleet) s.client.close();
      process.disconnect();
      return;
    }
    for (const s of fleet) {
      s.marker = m.marker;
      s.watchKind = m.kind ?? "route";
      s.ackedAt = 0;
    }
    watch = { marker: m.marker, timer: setTimeout(finish, m.timeoutMs) };
    send({ type: "watching", marker: m.marker, kind: m.kind ?? "route" });
  });
}

main();
