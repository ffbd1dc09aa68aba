// The proxy: holds the live clusters, endpoints, route tables and listeners; applies a new set of one resource type
// all-or-nothing (any error leaves the last good config serving), and drains what it replaces.
import type { Socket } from "node:net";
import { X509Certificate } from "node:crypto";
import type { Cluster__Output } from "../xds/generated/envoy/config/cluster/v3/Cluster.js";
import type { ClusterLoadAssignment__Output } from "../xds/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { Listener__Output } from "../xds/generated/envoy/config/listener/v3/Listener.js";
import type { RouteConfiguration__Output } from "../xds/generated/envoy/config/route/v3/RouteConfiguration.js";
import { type FieldError, fail, ok, type Result } from "../xds/result.js";
import { type ResourceKind, toProto3Json } from "../xds/resource.js";
import { originalDestination } from "../native/original-dst.js";
import { compileRouteTable, type RouteTable } from "./http/route-table.js";
import { Router } from "./http/router.js";
import { OtlpExporter } from "./tracing/otlp-exporter.js";
import { ZipkinExporter } from "./tracing/zipkin-exporter.js";
import type { ExporterTarget, SpanSink } from "./tracing/span-sink.js";
import { unhonouredFields } from "./config/field-check.js";
import { Runtime } from "./runtime/runtime.js";
import { ActiveListener, ListenerConfig, type ListenerDeps } from "./listener/listener.js";
import { Stats } from "./stats/stats.js";
import { processRuntimeStats } from "./stats/runtime-stats.js";
import { UpstreamCluster } from "./upstream/cluster.js";
import { HttpConnectionManager } from "./http/connection-manager.js";
import { IstioMetrics, type PeerInfo } from "./stats/istio-metrics.js";
import { type SecretMaterial, secretMaterial } from "./tls/tls-context.js";
import type { Secret__Output } from "../xds/generated/envoy/extensions/transport_sockets/tls/v3/Secret.js";
import { splitPem } from "../identity/x509.js";

interface Versioned<T> {
  config: T;
  json: string;
  version: string;
}

const FULL_NAMES: Record<ResourceKind, string> = {
  listener: "envoy.config.listener.v3.Listener",
  route: "envoy.config.route.v3.RouteConfiguration",
  cluster: "envoy.config.cluster.v3.Cluster",
  endpoint: "envoy.config.endpoint.v3.ClusterLoadAssignment",
  secret: "envoy.extensions.transport_sockets.tls.v3.Secret",
};

function fingerprint(obj: unknown): string {
  return JSON.stringify(obj, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v));
}

/** Refuses a resource set when any resource sets a field the proxy would not act on (named with its path). */
function honoured(kind: ResourceKind, list: ReadonlyArray<{ name?: string; cluster_name?: string }>): Result<void> {
  const errors = list.flatMap((r, i) => unhonouredFields(FULL_NAMES[kind], r, `${kind}[${i}]${r.name || r.cluster_name ? ` ${r.name || r.cluster_name}` : ""}`));
  return errors.length ? { ok: false, errors } : ok(undefined);
}

function errorOf(err: unknown, path: string): FieldError[] {
  return [{ path, message: (err as Error).message }];
}

export class Proxy {
  readonly stats = new Stats();
  readonly router: Router;
  private clusters = new Map<string, { cluster: UpstreamCluster; meta: Versioned<Cluster__Output>; static: boolean }>();
  private assignments = new Map<string, Versioned<ClusterLoadAssignment__Output>>();
  private routes = new Map<string, { table: RouteTable; meta: Versioned<RouteConfiguration__Output> }>();
  private listeners = new Map<string, { active: ActiveListener; meta: Versioned<Listener__Output>; static: boolean }>();
  private readonly deps: ListenerDeps;
  readonly istioMetrics = new IstioMetrics();
  /** Certificates by SDS name ("default", "ROOTCA"), from the proxy's certificate provider. */
  private readonly secrets = new Map<string, SecretMaterial>();
  /** Secrets sent by the control plane (SDS over ADS); they take precedence over the local provider's. */
  private adsSecrets = new Map<string, SecretMaterial>();
  /** Every SDS name a config refers to: the proxy subscribes to them over ADS. */
  private readonly wantedSecrets = new Set<string>();
  private draining = false;
  secretsVersion = "";
  readonly startedAt = new Date();
  drainTimeoutMs = 5000;
  nodeId = "";
  /** layered_runtime: set once at start, before any listener or route is compiled. */
  runtime = Runtime.fromBootstrap(null, "", "");
  /** The node's cluster (bootstrap node.cluster): Zipkin's local service name. */
  nodeCluster = "";
  /** One span exporter per collector target, shared by every connection manager that traces to it. */
  private readonly exporters = new Map<string, SpanSink>();

  constructor() {
    this.router = new Router((n) => this.clusters.get(n)?.cluster, this.stats);
    const rt = processRuntimeStats();
    this.stats.addCollector({ collect: (s) => rt.publish(s), reset: () => rt.reset() });
    // The runtime is set from the bootstrap after construction; listeners read the proxy's current one.
    const runtime = () => this.runtime;
    this.deps = {
      router: this.router,
      stats: this.stats,
      routes: (name) => this.routes.get(name)?.table,
      clusterExists: (name) => this.clusters.has(name),
      cluster: (name) => this.clusters.get(name)?.cluster,
      secrets: Object.assign((name: string) => this.secret(name), { want: (name: string) => void this.wantedSecrets.add(name) }),
      get runtime() { return runtime(); },
      tracing: { nodeId: () => this.nodeId, nodeCluster: () => this.nodeCluster, exporter: (target) => this.exporter(target) },
    };
  }

  /** Envoy's /certs: each secret's certificates (every root of a bundle), identity and validity (never the key). */
  certificates(): Array<{ name: string; source: "local" | "ads"; uri_sans: string[]; serial: string; valid_from: string; expiration_time: string; days_until_expiration: number; ca: boolean; sha256_fingerprint: string; issuer_root_sha256?: string }> {
    const out = [];
    const names = new Set([...this.secrets.keys(), ...this.adsSecrets.keys()]);
    for (const name of [...names].sort()) {
      const source = this.adsSecrets.has(name) ? "ads" as const : "local" as const;
      const m = this.secret(name)!;
      const pems = m.certChainPem ? splitPem(m.certChainPem).slice(0, 1) : splitPem(m.caPem ?? "");
      for (const pem of pems) {
        try {
          const cert = new X509Certificate(pem);
          out.push({
            name, source, serial: cert.serialNumber, valid_from: new Date(cert.validFrom).toISOString(), expiration_time: new Date(cert.validTo).toISOString(),
            days_until_expiration: Math.floor((Date.parse(cert.validTo) - Date.now()) / 86_400_000), ca: cert.ca,
            uri_sans: (cert.subjectAltName ?? "").split(/,\s*/).filter((s) => s.startsWith("URI:")).map((s) => s.slice(4)),
            sha256_fingerprint: cert.fingerprint256,
            issuer_root_sha256: m.issuerRootPem && m.certChainPem ? new X509Certificate(m.issuerRootPem).fingerprint256 : undefined,
          });
        } catch {
          // a malformed secret is reported by the TLS handshake that uses it
        }
      }
    }
    return out;
  }

  secret(name: string): SecretMaterial | undefined {
    return this.adsSecrets.get(name) ?? this.secrets.get(name);
  }

  /**
   * SDS over ADS, state of the world for the names subscribed. Certificates must parse and a key must come with its
   * chain; a bad secret rejects the update and the previous ones keep serving.
   */
  applySecrets(list: Secret__Output[], version: string): Result<void> {
    const checked = honoured("secret", list);
    if (!checked.ok) return checked;
    const next = new Map<string, SecretMaterial>();
    const errors = [];
    for (const [i, sec] of list.entries()) {
      const where = `secret[${i}]${sec.name ? ` ${sec.name}` : ""}`;
      if (!sec.name) { errors.push({ path: `${where}.name`, message: "a secret needs a name" }); continue; }
      try {
        next.set(sec.name, secretMaterial(sec, where));
      } catch (err) {
        errors.push({ path: where, message: (err as Error).message });
      }
    }
    if (errors.length) return { ok: false, errors };
    this.adsSecrets = next;
    this.secretsVersion = version;
    return { ok: true, value: undefined };
  }

  /** Installs or rotates a secret; new connections use it, open ones keep theirs. */
  setSecret(name: string, material: SecretMaterial): void {
    this.secrets.set(name, material);
  }

  /** Who this proxy is (from its node metadata): turns on Istio's standard metrics for its inbound and outbound traffic. */
  setIdentity(self: PeerInfo, service?: string): void {
    this.deps.istio = { metrics: this.istioMetrics, self, service };
  }

  /** Replaces the dynamic clusters with `list` (static ones stay). All are built before any is swapped in. */
  applyClusters(list: Cluster__Output[], version: string, isStatic = false): Result<void> {
    const checked = honoured("cluster", list);
    if (!checked.ok) return checked;
    const next = new Map<string, { cluster: UpstreamCluster; meta: Versioned<Cluster__Output>; static: boolean }>();
    const created: UpstreamCluster[] = [];
    for (const [i, c] of list.entries()) {
      const json = fingerprint(c);
      const prev = this.clusters.get(c.name);
      if (next.has(c.name)) {
        created.forEach((x) => x.close());
        return fail(`clusters[${i}].name`, `cluster "${c.name}" appears twice`);
      }
      if (prev && prev.meta.json === json) {
        next.set(c.name, { ...prev, meta: { ...prev.meta, version } });
        continue;
      }
      try {
        const cluster = new UpstreamCluster(c, this.stats, this.deps.secrets);
        created.push(cluster);
        const cla = this.assignments.get(cluster.edsServiceName);
        if (cluster.type === "EDS" && cla) cluster.setAssignment(cla.config);
        if (prev) cluster.adoptDnsAnswers(prev.cluster);
        next.set(c.name, { cluster, meta: { config: c, json, version }, static: isStatic });
      } catch (err) {
        created.forEach((x) => x.close());
        return { ok: false, errors: errorOf(err, `cluster ${c.name}`) };
      }
    }
    const removed: UpstreamCluster[] = [];
    for (const [name, entry] of this.clusters) {
      if (entry.static !== isStatic) next.set(name, entry);
      else if (!next.has(name) || next.get(name)!.cluster !== entry.cluster) removed.push(entry.cluster);
    }
    this.clusters = next;
    // Replaced clusters finish their in-flight requests on their own sockets; their idle pools close now.
    setTimeout(() => removed.forEach((c) => c.close()), this.drainTimeoutMs).unref();
    this.stats.setGauge("cluster_manager.active_clusters", this.clusters.size);
    return ok(undefined);
  }

  applyEndpoints(list: ClusterLoadAssignment__Output[], version: string): Result<void> {
    const checked = honoured("endpoint", list);
    if (!checked.ok) return checked;
    for (const cla of list) {
      const json = fingerprint(cla);
      this.assignments.set(cla.cluster_name, { config: cla, json, version });
      for (const { cluster } of this.clusters.values()) if (cluster.type === "EDS" && cluster.edsServiceName === cla.cluster_name) cluster.setAssignment(cla);
    }
    return ok(undefined);
  }

  applyRoutes(list: RouteConfiguration__Output[], version: string): Result<void> {
    const checked = honoured("route", list);
    if (!checked.ok) return checked;
    const next = new Map<string, { table: RouteTable; meta: Versioned<RouteConfiguration__Output> }>();
    for (const r of list) {
      try {
        next.set(r.name, { table: compileRouteTable(r, this.runtime), meta: { config: r, json: fingerprint(r), version } });
      } catch (err) {
        return { ok: false, errors: errorOf(err, `route_configuration ${r.name}`) };
      }
    }
    this.routes = next;
    return ok(undefined);
  }

  /** Builds every listener first; only when all compile are they bound or swapped in. */
  async applyListeners(list: Listener__Output[], version: string, isStatic = false): Promise<Result<void>> {
    const checked = honoured("listener", list);
    if (!checked.ok) return checked;
    const built: Array<{ l: Listener__Output; cfg: ListenerConfig; json: string }> = [];
    const names = new Set<string>();
    for (const [i, l] of list.entries()) {
      // The map is keyed by name: a repeat would silently replace (and orphan) the earlier listener's socket.
      if (!l.name) return fail(`listeners[${i}].name`, "a listener needs a name");
      if (names.has(l.name)) return fail(`listeners[${i}].name`, `listener "${l.name}" appears twice`);
      names.add(l.name);
    }
    for (const l of list) {
      const json = fingerprint(l);
      const prev = this.listeners.get(l.name);
      if (prev && prev.meta.json === json) {
        built.push({ l, cfg: prev.active.config, json });
        continue;
      }
      try {
        built.push({ l, cfg: new ListenerConfig(l, this.deps), json });
      } catch (err) {
        return { ok: false, errors: errorOf(err, `listener ${l.name}`) };
      }
    }
    const next = new Map<string, { active: ActiveListener; meta: Versioned<Listener__Output>; static: boolean }>();
    const fresh: ActiveListener[] = [];
    for (const { l, cfg, json } of built) {
      const prev = this.listeners.get(l.name);
      const sameAddress = prev && fingerprint(prev.meta.config.address) === fingerprint(l.address);
      if (prev && sameAddress) {
        const old = prev.active.update(cfg);
        if (old !== cfg) void this.drainConfig(old);
        next.set(l.name, { active: prev.active, meta: { config: l, json, version }, static: isStatic });
        continue;
      }
      const active = new ActiveListener(l.name, cfg, (al, socket) => this.handOff(al, socket));
      try {
        await active.listen();
      } catch (err) {
        await Promise.all(fresh.map((f) => f.close(0)));
        return { ok: false, errors: errorOf(err, `listener ${l.name}.address`) };
      }
      fresh.push(active);
      next.set(l.name, { active, meta: { config: l, json, version }, static: isStatic });
    }
    for (const [name, entry] of this.listeners) {
      if (entry.static !== isStatic) next.set(name, entry);
      else if (!next.has(name) || next.get(name)!.active !== entry.active) void entry.active.close(this.drainTimeoutMs);
    }
    this.listeners = next;
    this.stats.setGauge("listener_manager.total_listeners_active", this.listeners.size);
    return ok(undefined);
  }

  private async drainConfig(cfg: ListenerConfig): Promise<void> {
    await Promise.all(cfg.filters().map((f) => (f instanceof HttpConnectionManager ? f.drain(this.drainTimeoutMs, true) : Promise.resolve())));
  }

  /**
   * A listener with use_original_dst hands each connection to the listener bound to its original destination port,
   * as Envoy's virtual outbound listener (15001) does; it keeps the connection when none matches.
   */
  private handOff(from: ActiveListener, socket: Socket): boolean {
    const dst = originalDestination(socket);
    if (!dst) return false;
    for (const { active } of this.listeners.values()) {
      if (active === from) continue;
      const a = active.address();
      if (active.boundPort === 0 && a.port === dst.port && (a.address === dst.address || a.address === "0.0.0.0" || a.address === "::")) {
        active.dispatch(socket, dst);
        return true;
      }
    }
    from.dispatch(socket, dst);
    return true;
  }

  /** Which RDS names the listeners need, and EDS names the clusters need (for ADS subscriptions). */
  subscriptions(): { endpoint: string[]; route: string[]; secret: string[] } {
    const endpoint = [...this.clusters.values()].filter((c) => c.cluster.type === "EDS").map((c) => c.cluster.edsServiceName);
    const route = new Set<string>();
    for (const { active } of this.listeners.values()) for (const f of active.config.filters()) if (f instanceof HttpConnectionManager && f.rdsName) route.add(f.rdsName);
    return { endpoint: [...new Set(endpoint)].sort(), route: [...route].sort(), secret: [...this.wantedSecrets].sort() };
  }

  listenerAddresses(): Array<{ name: string; address: string; port: number }> {
    return [...this.listeners.values()].map(({ active }) => ({ name: active.name, address: active.address().address, port: active.boundPort || active.address().port }));
  }

  clusterList(): UpstreamCluster[] {
    return [...this.clusters.values()].map((c) => c.cluster);
  }

  /** Envoy's /config_dump shape: one entry per config type, resources in proto3 JSON. */
  configDump(bootstrap: unknown): { configs: unknown[] } {
    const at = (v: Versioned<unknown>, kind: ResourceKind) => ({ version_info: v.version, [kind === "cluster" ? "cluster" : kind === "listener" ? "active_state" : "route_config"]: kind === "listener" ? { version_info: v.version, listener: { "@type": `type.googleapis.com/${FULL_NAMES.listener}`, ...(toProto3Json(FULL_NAMES.listener, v.config) as object) } } : { "@type": `type.googleapis.com/${FULL_NAMES[kind]}`, ...(toProto3Json(FULL_NAMES[kind], v.config) as object) } });
    const split = <T extends { static: boolean; meta: Versioned<unknown> }>(m: Map<string, T>, kind: ResourceKind) => ({
      static: [...m.values()].filter((e) => e.static).map((e) => at(e.meta, kind)),
      dynamic: [...m.values()].filter((e) => !e.static).map((e) => at(e.meta, kind)),
    });
    const clusters = split(this.clusters, "cluster");
    const listeners = split(this.listeners, "listener");
    return {
      configs: [
        { "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump", bootstrap },
        { "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", static_clusters: clusters.static, dynamic_active_clusters: clusters.dynamic },
        { "@type": "type.googleapis.com/envoy.admin.v3.ListenersConfigDump", static_listeners: listeners.static, dynamic_listeners: listeners.dynamic.map((d) => ({ name: (d.active_state as unknown as { listener: { name: string } }).listener.name, ...d })) },
        { "@type": "type.googleapis.com/envoy.admin.v3.RoutesConfigDump", dynamic_route_configs: [...this.routes.values()].map((r) => at(r.meta, "route")) },
        // Envoy redacts private keys in a dump; Trellis leaves them out and shows what identifies each certificate.
        { "@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", dynamic_active_secrets: this.certificates().map((c) => ({ name: c.name, secret: { ...c, private_key: c.ca ? undefined : "[redacted]" } })) },
        { "@type": "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump", dynamic_endpoint_configs: [...this.assignments.values()].map((a) => ({ version_info: a.version, endpoint_config: { "@type": `type.googleapis.com/${FULL_NAMES.endpoint}`, ...(toProto3Json(FULL_NAMES.endpoint, a.config) as object) } })) },
      ],
    };
  }

  isDraining(): boolean {
    return this.draining;
  }

  /** Stops accepting on every listener and lets in-flight requests finish, up to the drain timeout. */
  async drain(): Promise<void> {
    this.draining = true;
    await Promise.all([...this.listeners.values()].map(({ active }) => active.close(this.drainTimeoutMs)));
  }

  private exporter(target: ExporterTarget): SpanSink {
    const key = JSON.stringify(target.protocol === "otlp" ? { ...target, url: target.url.href } : target);
    let e = this.exporters.get(key);
    const clusters = (n: string) => this.clusters.get(n)?.cluster;
    if (!e) this.exporters.set(key, (e = target.protocol === "zipkin" ? new ZipkinExporter(target, clusters, this.stats) : new OtlpExporter(target, clusters, this.stats)));
    return e;
  }

  async close(): Promise<void> {
    await this.drain();
    await Promise.all([...this.exporters.values()].map((e) => e.flush()));
    for (const e of this.exporters.values()) e.close();
    for (const { cluster } of this.clusters.values()) cluster.close();
    this.runtime.close();
  }
}
