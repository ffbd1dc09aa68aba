// An upstream cluster: its hosts (static, DNS, EDS or original destination), load balancer, circuit breakers,
// outlier detection and connection pools. Built per Cluster resource; EDS updates keep pools of hosts that stay.
import type { Cluster__Output } from "../../xds/generated/envoy/config/cluster/v3/Cluster.js";
import type { ClusterLoadAssignment__Output } from "../../xds/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { HttpProtocolOptions__Output } from "../../xds/generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.js";
import { durationMs, wrapped } from "../util/duration.js";
import type { Stats } from "../stats/stats.js";
import { type Endpoint, newEndpoint, usable } from "./endpoint.js";
import { createLoadBalancer, type LoadBalancer } from "./load-balancer.js";
import { chooseSet, computeState, type LocalityGroup, type PriorityState, type SelectionOptions } from "./host-selection.js";
import { ConnectionPools } from "./connection-pools.js";
import { buildUpstreamTls, type UpstreamTls } from "./upstream-tls.js";
import { ActiveHealthChecker } from "./health-checker.js";
import { dnsResolverFor, expand } from "./dns-resolver.js";
import type { SecretLookup } from "../tls/tls-context.js";
import { refuseFileSource } from "../config/config-source.js";
import { typedConfig } from "../config/typed-config.js";

export interface CircuitBreakers {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
}

export interface OutlierConfig {
  consecutive5xx: number;
  enforce5xx: boolean;
  consecutiveGatewayFailure: number;
  enforceGatewayFailure: boolean;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  maxEjectionMs: number;
}

export type ClusterType = "STATIC" | "STRICT_DNS" | "LOGICAL_DNS" | "EDS" | "ORIGINAL_DST";

const HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

export class UpstreamCluster {
  readonly name: string;
  /** Stat names the router bumps per request, built once. */
  readonly rqStats: { total: string; active: string; byClass: string[] };
  readonly type: ClusterType;
  readonly connectTimeoutMs: number;
  readonly breakers: CircuitBreakers;
  readonly outlier?: OutlierConfig;
  readonly http2: boolean;
  readonly edsServiceName: string;
  readonly panicThreshold: number;
  readonly tls?: UpstreamTls;
  /** Istio's cluster metadata: the service behind the cluster (telemetry's destination_service*). */
  readonly istioService?: IstioService;
  /** Istio's `external` cluster metadata (MESH_EXTERNAL): no peer metadata is sent there. */
  readonly external: boolean;
  /** The pools of the cluster's transport_socket (and of hosts no transport_socket_matches entry matches). */
  readonly pools: ConnectionPools;
  /** transport_socket_matches, in order: each with its own TLS (or plaintext) and pools; hosts pick by metadata. */
  private readonly transports: Array<{ name: string; match: Record<string, unknown>; pools: ConnectionPools }> = [];
  /** The assignment's LocalityLbEndpoints groups, and the host-set choice computed from them and host health. */
  private groups: LocalityGroup[] = [];
  private selection?: PriorityState;
  private readonly selectionOptions: SelectionOptions;
  private all = new Map<string, Endpoint>();
  activeRequests = 0;
  activeRetries = 0;
  private timers: NodeJS.Timeout[] = [];
  private dnsTimer?: NodeJS.Timeout;
  /** DNS clusters: each endpoint name's last answer, and the assignment of names it expands. */
  private readonly dnsAnswers = new Map<string, string[]>();
  private dnsAssignment?: ClusterLoadAssignment__Output;
  private healthChecker?: ActiveHealthChecker;
  private closed = false;

  constructor(readonly config: Cluster__Output, private readonly stats: Stats, secrets: SecretLookup) {
    this.name = config.name;
    this.rqStats = { total: `cluster.${this.name}.upstream_rq_total`, active: `cluster.${this.name}.upstream_rq_active`, byClass: [0, 1, 2, 3, 4, 5].map((c) => `cluster.${this.name}.upstream_rq_${c}xx`) };
    // No discovery type at all is Envoy's default, STATIC (the oneof member decodes as "STATIC" only when named).
    const t = config.cluster_discovery_type === "type" ? config.type : config.cluster_discovery_type ? undefined : "STATIC";
    if (!t || !["STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS", "ORIGINAL_DST"].includes(t)) {
      throw new Error(`cluster ${config.name}: type ${t ?? config.cluster_discovery_type ?? "(none)"} is not supported (STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST are)`);
    }
    this.type = t as ClusterType;
    this.connectTimeoutMs = durationMs(config.connect_timeout, 5000);
    const th = config.circuit_breakers?.thresholds.find((x) => x.priority === "DEFAULT");
    this.breakers = {
      maxConnections: wrapped(th?.max_connections, 1024),
      maxPendingRequests: wrapped(th?.max_pending_requests, 1024),
      maxRequests: wrapped(th?.max_requests, 1024),
      maxRetries: wrapped(th?.max_retries, 3),
    };
    const od = config.outlier_detection;
    if (od) {
      this.outlier = {
        consecutive5xx: wrapped(od.consecutive_5xx, 5),
        enforce5xx: wrapped(od.enforcing_consecutive_5xx, 100) > 0,
        consecutiveGatewayFailure: wrapped(od.consecutive_gateway_failure, 5),
        enforceGatewayFailure: wrapped(od.enforcing_consecutive_gateway_failure, 0) > 0,
        intervalMs: durationMs(od.interval, 10_000),
        baseEjectionMs: durationMs(od.base_ejection_time, 30_000),
        maxEjectionPercent: wrapped(od.max_ejection_percent, 10),
        maxEjectionMs: durationMs(od.max_ejection_time, 300_000),
      };
    }
    let http2 = !!config.http2_protocol_options;
    let maxRequestsPerConnection = wrapped(config.max_requests_per_connection, 0);
    let idleTimeoutMs = 3_600_000;
    const opts = config.typed_extension_protocol_options[HTTP_OPTIONS];
    if (opts) {
      const decoded = typedConfig<HttpProtocolOptions__Output>(opts, `typed_extension_protocol_options["${HTTP_OPTIONS}"]`, `cluster ${config.name}: `);
      const o = decoded;
      if (o.explicit_http_config?.http2_protocol_options) http2 = true;
      maxRequestsPerConnection = wrapped(o.common_http_protocol_options?.max_requests_per_connection, maxRequestsPerConnection);
      idleTimeoutMs = durationMs(o.common_http_protocol_options?.idle_timeout, idleTimeoutMs);
    }
    this.http2 = http2;
    refuseFileSource(config.eds_cluster_config?.eds_config, `cluster ${config.name}.eds_cluster_config.eds_config`, "EDS");
    this.edsServiceName = config.eds_cluster_config?.service_name || config.name;
    const istio = structValue(config.metadata?.filter_metadata?.istio) as { external?: unknown; services?: unknown } | undefined;
    this.external = istio?.external === true;
    const service = Array.isArray(istio?.services) ? (istio.services[0] as Record<string, unknown> | undefined) : undefined;
    if (typeof service?.host === "string") this.istioService = { host: service.host, name: typeof service.name === "string" ? service.name : service.host, namespace: typeof service.namespace === "string" ? service.namespace : "unknown" };
    this.panicThreshold = config.common_lb_config?.healthy_panic_threshold ? config.common_lb_config.healthy_panic_threshold.value : 50;
    if (config.transport_socket) this.tls = buildUpstreamTls(config.transport_socket, secrets, `cluster ${config.name}`);
    // An ORIGINAL_DST cluster's host is the connection's destination, so the cluster provides it (Envoy requires
    // CLUSTER_PROVIDED there and refuses it elsewhere; the unset default, ROUND_ROBIN, is let through).
    const provided = config.lb_policy === "CLUSTER_PROVIDED";
    if (provided !== (t === "ORIGINAL_DST") && (provided || config.lb_policy !== "ROUND_ROBIN")) {
      throw new Error(`cluster ${config.name}: lb_policy CLUSTER_PROVIDED goes with type ORIGINAL_DST, and only there`);
    }
    const policy = provided ? "ROUND_ROBIN" : config.lb_policy;
    const lbOptions = {
      choiceCount: wrapped(config.least_request_lb_config?.choice_count, 2),
      minRingSize: Number(wrapped(config.ring_hash_lb_config?.minimum_ring_size, 1024)),
      maxRingSize: Number(wrapped(config.ring_hash_lb_config?.maximum_ring_size, 8 * 1024 * 1024)),
      tableSize: Number(wrapped(config.maglev_lb_config?.table_size, 65537)),
    };
    createLoadBalancer(policy, lbOptions); // rejects an unsupported policy now, not at the first request
    this.selectionOptions = {
      overprovisioningFactor: 140,
      panicThreshold: this.panicThreshold,
      localityWeighted: config.common_lb_config?.locality_config_specifier === "locality_weighted_lb_config",
      hashed: policy === "RING_HASH" || policy === "MAGLEV",
      newLb: (): LoadBalancer => createLoadBalancer(policy, lbOptions),
    };
    const poolOptions = { http2, connectTimeoutMs: this.connectTimeoutMs, maxConnectionsPerHost: this.breakers.maxConnections, maxRequestsPerConnection, idleTimeoutMs, stats, statPrefix: `cluster.${this.name}` };
    this.pools = new ConnectionPools({ ...poolOptions, tls: this.tls });
    for (const [i, m] of config.transport_socket_matches.entries()) {
      const where = `cluster ${config.name}.transport_socket_matches[${i}]`;
      if (!m.transport_socket) throw new Error(`${where}.transport_socket is required`);
      this.transports.push({ name: m.name, match: structFields(m.match), pools: new ConnectionPools({ ...poolOptions, tls: buildUpstreamTls(m.transport_socket, secrets, where) }) });
    }
    if (this.type === "STATIC" || this.type === "STRICT_DNS" || this.type === "LOGICAL_DNS") {
      // A STATIC cluster without load_assignment has no hosts (Istio's BlackHoleCluster); DNS ones need names.
      if (this.type === "STATIC") this.setAssignment(config.load_assignment ?? { cluster_name: config.name, endpoints: [], named_endpoints: {}, policy: null });
      else if (!config.load_assignment) throw new Error(`cluster ${config.name}: a ${this.type} cluster needs load_assignment`);
      else this.startDns(config, config.load_assignment);
    }
    if (config.health_checks.length > 1) throw new Error(`cluster ${config.name}.health_checks: one health check per cluster is supported, not ${config.health_checks.length}`);
    if (config.health_checks.length === 1) {
      this.healthChecker = new ActiveHealthChecker(config.health_checks[0], { name: this.name, hosts: () => this.hosts(), tls: () => this.pools.tlsOptions(["http/1.1"]), healthChanged: () => { this.selection = undefined; } }, stats, `cluster ${config.name}.health_checks[0]`);
      this.healthChecker.start();
    }
    if (this.outlier) {
      const timer = setInterval(() => this.uneject(), Math.min(this.outlier.intervalMs, 1000));
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Applies an EDS (or static) assignment; hosts that stay keep their pools and outlier state. */
  setAssignment(cla: ClusterLoadAssignment__Output): void {
    const next = new Map<string, Endpoint>();
    const groups: LocalityGroup[] = [];
    for (const group of cla.endpoints) {
      const locality = group.locality ? `${group.locality.region}/${group.locality.zone}/${group.locality.sub_zone}` : "";
      const hosts: Endpoint[] = [];
      for (const lbe of group.lb_endpoints) {
        const sock = lbe.endpoint?.address?.socket_address;
        if (!sock) continue;
        const port = sock.port_value ?? 0;
        const key = `${sock.address}:${port}`;
        const prev = this.all.get(key);
        const e = prev ?? newEndpoint(sock.address, port);
        e.weight = lbe.load_balancing_weight?.value ?? 1;
        e.priority = group.priority;
        e.locality = locality;
        e.edsHealthy = !["UNHEALTHY", "DRAINING", "TIMEOUT"].includes(lbe.health_status);
        e.hostname = lbe.endpoint?.hostname ?? "";
        e.metadata = lbe.metadata?.filter_metadata ? (lbe.metadata.filter_metadata as unknown as Record<string, unknown>) : {};
        e.transport = this.transportOf(e);
        next.set(key, e);
        hosts.push(e);
      }
      if (hosts.length) groups.push({ priority: group.priority, locality, weight: group.load_balancing_weight?.value ?? 0, hosts });
    }
    for (const [key] of this.all) if (!next.has(key)) for (const pools of this.allPools()) pools.drainHost(key);
    this.all = next;
    // Envoy's default overprovisioning factor is 140 (percent).
    this.selectionOptions.overprovisioningFactor = cla.policy?.overprovisioning_factor ? cla.policy.overprovisioning_factor.value : 140;
    this.groups = groups;
    this.selection = undefined;
    this.healthChecker?.sync();
    this.stats.setGauge(`cluster.${this.name}.membership_total`, next.size);
    this.stats.setGauge(`cluster.${this.name}.membership_healthy`, [...next.values()].filter((e) => usable(e, Date.now())).length);
  }

  /**
   * Envoy's transport_socket_matches: the first entry whose match fields all equal the host's
   * `envoy.transport_socket_match` metadata (an empty match takes any host); none: the cluster's own transport.
   */
  private transportOf(e: Endpoint): number {
    if (this.transports.length === 0) return -1;
    const meta = structFields(e.metadata["envoy.transport_socket_match"]);
    return this.transports.findIndex((t) => Object.entries(t.match).every(([k, v]) => meta[k] === v));
  }

  /** The pools (and so the TLS) a host is reached with. */
  poolsFor(host: Endpoint): ConnectionPools {
    return host.transport >= 0 ? this.transports[host.transport]?.pools ?? this.pools : this.pools;
  }

  private allPools(): ConnectionPools[] {
    return [this.pools, ...this.transports.map((t) => t.pools)];
  }

  /** Requests waiting for a connection, across every transport's pools (for max_pending_requests). */
  pending(): number {
    let n = this.pools.pending();
    for (const t of this.transports) n += t.pools.pending();
    return n;
  }

  hosts(): Endpoint[] {
    return [...this.all.values()];
  }

  /**
   * Picks a host as Envoy does: a priority by the load computed from each priority's health (spilling over to the
   * next as one degrades), a locality by effective weight when locality weighted LB is on, then the cluster's policy
   * within it. A priority in panic (too few healthy hosts) balances over all its hosts rather than overload the few.
   */
  pick(hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    const now = Date.now();
    let state = this.selection;
    if (!state || now >= state.validUntil) state = this.selection = computeState(this.groups, this.selectionOptions, now);
    const chosen = chooseSet(state, hash);
    if (!chosen) return undefined;
    if (state.panic[chosen.priority]) this.stats.inc(`cluster.${this.name}.lb_healthy_panic`);
    return chosen.set.lb.pick(chosen.set.hosts, hash, skip);
  }

  /** Feeds outlier detection with a request's result: an HTTP status, or a connect/reset failure. */
  recordResult(e: Endpoint, status: number | "connect-failure" | "reset" | "timeout"): void {
    const od = this.outlier;
    if (!od) return;
    const gatewayFailure = status === "connect-failure" || status === "reset" || status === "timeout" || status === 502 || status === 503 || status === 504;
    const is5xx = gatewayFailure || (typeof status === "number" && status >= 500);
    if (!is5xx) {
      e.consecutive5xx = 0;
      e.consecutiveGatewayFailures = 0;
      return;
    }
    e.consecutive5xx++;
    if (gatewayFailure) e.consecutiveGatewayFailures++;
    if ((od.enforce5xx && e.consecutive5xx >= od.consecutive5xx) || (od.enforceGatewayFailure && e.consecutiveGatewayFailures >= od.consecutiveGatewayFailure)) this.eject(e);
  }

  private eject(e: Endpoint): void {
    const od = this.outlier!;
    const now = Date.now();
    if (e.ejectedUntil > now) return;
    const ejected = this.hosts().filter((h) => h.ejectedUntil > now).length;
    // max_ejection_percent, but always allow one ejection (Envoy ejects at least one host when the percentage allows less).
    if (ejected > 0 && ((ejected + 1) * 100) / this.all.size > od.maxEjectionPercent) {
      this.stats.inc(`cluster.${this.name}.outlier_detection.ejections_overflow`);
      return;
    }
    e.ejections++;
    e.ejectedUntil = now + Math.min(od.baseEjectionMs * e.ejections, Math.max(od.baseEjectionMs, od.maxEjectionMs));
    e.consecutive5xx = 0;
    e.consecutiveGatewayFailures = 0;
    this.selection = undefined;
    this.stats.inc(`cluster.${this.name}.outlier_detection.ejections_enforced_total`);
    this.stats.gauge(`cluster.${this.name}.outlier_detection.ejections_active`, 1);
  }

  private uneject(): void {
    const now = Date.now();
    let active = 0;
    for (const e of this.all.values()) if (e.ejectedUntil > now) active++;
    this.stats.setGauge(`cluster.${this.name}.outlier_detection.ejections_active`, active);
  }

  /**
   * Resolves every endpoint's name now and again at dns_refresh_rate (the answer's TTL instead with respect_dns_ttl),
   * one refresh at a time. A name whose lookup fails keeps its last addresses (Envoy keeps the hosts it had) and is
   * retried at dns_failure_refresh_rate; addresses that stay keep their endpoints, and so their pooled connections.
   */
  private startDns(config: Cluster__Output, cla: ClusterLoadAssignment__Output): void {
    const where = `cluster ${config.name}`;
    const resolve = dnsResolverFor(config, where);
    const names = [...new Set(cla.endpoints.flatMap((g) => g.lb_endpoints.map((l) => l.endpoint?.address?.socket_address?.address).filter((a): a is string => !!a)))];
    if (this.type === "LOGICAL_DNS" && (cla.endpoints.length !== 1 || cla.endpoints[0].lb_endpoints.length !== 1)) {
      throw new Error(`${where}: a LOGICAL_DNS cluster takes exactly one endpoint in load_assignment (one locality with one lb_endpoint)`);
    }
    const refreshMs = durationMs(config.dns_refresh_rate, 5000);
    const failureMs = durationMs(config.dns_failure_refresh_rate?.base_interval, refreshMs);
    const known = this.dnsAnswers;
    this.dnsAssignment = cla;
    const refresh = async () => {
      this.stats.inc(`cluster.${this.name}.update_attempt`);
      // Each name's own interval (its TTL with respect_dns_ttl, which may be longer than dns_refresh_rate, as in
      // Envoy); one timer serves them all at the soonest.
      let nextMs = Infinity;
      let failed = false;
      await Promise.all(names.map(async (name) => {
        try {
          const answer = await resolve(name);
          known.set(name, this.type === "LOGICAL_DNS" ? answer.addresses.slice(0, 1) : answer.addresses);
          nextMs = Math.min(nextMs, config.respect_dns_ttl && answer.ttlMs ? answer.ttlMs : refreshMs);
        } catch {
          failed = true;
          nextMs = Math.min(nextMs, failureMs);
        }
      }));
      this.stats.inc(`cluster.${this.name}.${failed ? "update_failure" : "update_success"}`);
      if (this.closed) return;
      this.setAssignment(expand(cla, known));
      // setTimeout takes at most 2^31-1 ms (a longer TTL would fire at once).
      this.dnsTimer = setTimeout(() => void refresh(), Math.min(Number.isFinite(nextMs) ? nextMs : refreshMs, 2 ** 31 - 1));
      this.dnsTimer.unref();
    };
    void refresh();
  }

  /**
   * A DNS cluster that replaces one of the same name starts from the answers the old one had for names both resolve,
   * so a config change does not leave it without hosts until its first lookup returns (Envoy warms it instead).
   */
  adoptDnsAnswers(previous: UpstreamCluster): void {
    if (!this.dnsAssignment || this.closed) return;
    let adopted = false;
    for (const name of new Set(this.dnsAssignment.endpoints.flatMap((g) => g.lb_endpoints.map((l) => l.endpoint?.address?.socket_address?.address ?? "")))) {
      const addresses = previous.dnsAnswers.get(name);
      if (addresses && !this.dnsAnswers.has(name)) {
        this.dnsAnswers.set(name, this.type === "LOGICAL_DNS" ? addresses.slice(0, 1) : addresses);
        adopted = true;
      }
    }
    if (adopted) this.setAssignment(expand(this.dnsAssignment, this.dnsAnswers));
  }

  /** ORIGINAL_DST: the host is where the downstream connection was going. */
  originalDestinationHost(address: string, port: number): Endpoint {
    const key = `${address}:${port}`;
    let e = this.all.get(key);
    if (!e) {
      e = newEndpoint(address, port);
      this.all.set(key, e);
    }
    return e;
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.dnsTimer);
    this.healthChecker?.close();
    for (const pools of this.allPools()) pools.close();
  }
}

export interface IstioService { host: string; name: string; namespace: string }

/** A google.protobuf.Value or Struct as protobufjs decodes it, as plain JSON (lists and nested structs included). */
function structValue(v: unknown): unknown {
  if (!v || typeof v !== "object") return undefined;
  const x = v as { fields?: Record<string, unknown>; kind?: string; structValue?: unknown; listValue?: { values?: unknown[] }; stringValue?: string; numberValue?: number; boolValue?: boolean };
  if (x.fields) return Object.fromEntries(Object.entries(x.fields).map(([k, f]) => [k, structValue(f)]));
  switch (x.kind) {
    case "structValue": return structValue(x.structValue);
    case "listValue": return (x.listValue?.values ?? []).map(structValue);
    case "stringValue": return x.stringValue;
    case "numberValue": return x.numberValue;
    case "boolValue": return x.boolValue;
    default: return undefined;
  }
}

/** A google.protobuf.Struct (as protobufjs decodes it) or a plain object, as plain string/number/bool fields. */
function structFields(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== "object") return {};
  const fields = (v as { fields?: Record<string, { stringValue?: string; numberValue?: number; boolValue?: boolean }> }).fields;
  if (!fields) return v as Record<string, unknown>;
  return Object.fromEntries(Object.entries(fields).map(([k, x]) => [k, x.stringValue ?? x.numberValue ?? x.boolValue]));
}
