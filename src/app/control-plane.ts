// `trellis control` assembled: store + registry -> translation per proxy (debounced) -> ADS snapshots; the REST API;
// and the CA (CSR service over TLS) when asked for.
import type { CompiledHealthConfig } from "../telemetry/metrics/health-config.js";
import { DEFAULT_DNS, type DnsSettings } from "../control/translate/service-entry-clusters.js";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { isIP } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AdsServer } from "../xds/ads-server.js";
import { SnapshotEncoder } from "../control/snapshot-encoder.js";
import { restApi, send, type ApiRoute } from "../control/api/rest-api.js";
import { CertificateAuthority } from "../control/ca/authority.js";
import { addCaService, controlPlaneCredentials, type ServingCredentials } from "../control/ca/ca-service.js";
import { TokenIssuer } from "../control/ca/tokens.js";
import { xdsAuthorizer } from "../control/ca/xds-auth.js";
import { tokenAuthenticator, type WorkloadAuthenticator } from "../control/ca/workload-authenticator.js";
import { type KubeIdentity, type KubeIdentityOptions, shareSelfSignedRoot, startKubeIdentity } from "../control/kube/identity-plane.js";
import { dropUnprovenAddresses } from "../control/registry/proven-address.js";
import { entryScope } from "../control/ca/registration-scope.js";
import { PRE_AUTH_SERVER_OPTIONS } from "../control/ca/grpc-limits.js";
import { Registry, workloadFromNode, type Workload } from "../control/registry/registry.js";
import type { AnalysisContext } from "../api/analyze.js";
import { nodeLocality } from "../control/registry/locality.js";
import { Store } from "../control/store/store.js";
import type { ConfigStore, StoreEvent } from "../control/store/config-store.js";
import type { KubeMode } from "../control/kube/kube-mode.js";
import type { ReplicaHooks } from "../control/ha/replica-hooks.js";
import type { IstioResource } from "../api/resource.js";
import { JwksFetcher } from "../control/security/jwks-fetcher.js";
import { TraceStore } from "../telemetry/traces/trace-store.js";
import { startOtlpIntake } from "../telemetry/traces/otlp-intake.js";
import { traceApi } from "./api/trace-api.js";
import { jaegerQueryApi } from "./api/jaeger-query-api.js";
import { DEFAULT_TRACE_BYTES, TraceDisk } from "../telemetry/traces/trace-disk.js";
import { telemetryApi } from "./api/telemetry-api.js";
import { proxyConfigApi } from "../control/api/proxy-config-api.js";
import { caApi } from "../control/api/ca-api.js";
import { logsApi } from "../control/api/logs-api.js";
import { startConsole } from "../console/console-server.js";
import { SeriesStore } from "../telemetry/metrics/series-store.js";
import { Scraper } from "../telemetry/metrics/scraper.js";
import { EmbeddedBackend, PrometheusBackend } from "../telemetry/metrics/query-backend.js";
import type { TracingSettings } from "../control/translate/tracing.js";
import { meshServices, translate } from "../control/translate/translate.js";
import { Debouncer } from "../control/push/debouncer.js";
import { PushPlanner } from "../control/push/push-planner.js";
import type { PushIndex } from "../control/push/push-index.js";
import { meshVips } from "../control/push/push-index.js";
import { servicesOf } from "../control/translate/services.js";
import { accessLogOf, DEFAULT_MESH_CONFIG, type MeshConfig } from "../control/mesh-config.js";
import { ConfigDirSync } from "../control/store/config-dir.js";
import { TranslationGuard } from "../control/translation-guard.js";
import { SecretStore } from "../control/secrets/secret-store.js";
import { secretApi } from "../control/secrets/secret-api.js";
import { GatewayReports } from "../control/gateway-reports.js";
import { gatewayApiStatusRoute } from "../control/gateway-api-status.js";
import { convertGatewayApi } from "../control/translate/gateway-api.js";
import { propagationApi } from "../control/api/propagation-api.js";
import { monitoringApi } from "../control/api/monitoring-api.js";
import { storeKindOf } from "../api/store-kind.js";

export const CONTROL_VERSION = "trellis-control/0.1.0";

export interface ControlPlaneOptions {
  stateDir: string;
  host?: string;
  xdsPort?: number;
  apiPort?: number;
  /** CSR API (and xDS) over TLS; undefined = off. */
  caPort?: number;
  /** Istio's plug-in CA files (ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem): sign as that intermediate. */
  caPluginDir?: string;
  debounceMs?: number;
  /** Longest a change waits for the debounce while changes keep coming (default 1 s; istiod's PILOT_DEBOUNCE_MAX). */
  debounceMaxMs?: number;
  log?: (line: string) => void;
  /** The OTLP/HTTP trace intake; default 4318, 0 = any free port. */
  otlpPort?: number;
  /** Percentage of requests sidecars sample (Istio's default: 1); 0 turns tracing off. */
  traceSamplingPercent?: number;
  /** Istio's MeshConfig: access logs, tracing, root namespace (see mesh-config.ts). */
  mesh?: MeshConfig;
  /** GitOps: the YAML under this directory is applied and kept applied (see config-dir.ts). */
  configDir?: string;
  configDirIntervalMs?: number;
  /** Send spans to this OTLP/HTTP collector (http://host:port/v1/traces) instead of the embedded store. */
  otlpCollectorUrl?: string;
  /** Spans kept by the embedded trace store (oldest traces go first). */
  traceStoreSpans?: number;
  /** Bytes the embedded trace store may hold (default 256 MiB; oldest traces go first). */
  traceStoreBytes?: number;
  /** --trace-store DIR: traces kept on disk there (bounded by traceStoreBytes), reloaded at start. */
  traceStoreDir?: string;
  /** --jaeger-url: the console's trace links open this Jaeger UI. */
  jaegerUrl?: string;
  /** How often every proxy's metrics are scraped into the embedded store (default 15 s). */
  scrapeIntervalMs?: number;
  /** Answer telemetry queries from this Prometheus (its HTTP API) instead of the embedded store. */
  prometheusUrl?: string;
  /** Health tolerances (Kiali's health_config.rate); undefined = the defaults. */
  healthConfig?: CompiledHealthConfig;
  /** The web console (default 20001, 0 = any free port); undefined = not served. */
  consolePort?: number;
  /** DNS servers sidecars query for DNS ServiceEntry hosts; none = each proxy's system resolver. */
  dnsResolvers?: Array<{ address: string; port: number }>;
  /** Host names the REST API and console answer besides IP addresses and localhost (--allowed-host). */
  allowedHosts?: string[];
  /** Who xDS streams and CSRs prove to be, and what they may register; default: our bootstrap tokens (with the CA). */
  authenticator?: WorkloadAuthenticator;
  /** Kubernetes mode: the API server is the store and the registry (see kube/kube-mode.ts). */
  kube?: KubeMode;
  /** Kubernetes mode's identity (TokenReview), validating webhook and leader-only work; needs the CA (caPort). */
  kubeIdentity?: KubeIdentityOptions;
  /** One of several replicas sharing an etcd store (see ha/etcd-replica.ts): the store, and registrations shared. */
  replica?: ReplicaHooks;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

export class ControlPlane {
  readonly store: ConfigStore;
  readonly registry: Registry;
  readonly ads: AdsServer;
  private api?: Server;
  private caServer?: grpc.Server;
  private ca?: { authority: CertificateAuthority; tokens: TokenIssuer };
  private serving?: ServingCredentials;
  private kubeIdentity?: KubeIdentity;
  /** Changes -> pushes (push/debouncer.ts), and what each push must translate (push/push-planner.ts). */
  readonly debouncer: Debouncer;
  private readonly planner = new PushPlanner();
  private readonly log: (line: string) => void;
  /** Proxies connected now: node id -> its workload. */
  private readonly connected = new Map<string, Workload>();
  /** Node ids of proxyless gRPC clients (node metadata GENERATOR=grpc, Istio's convention). */
  private readonly proxyless = new Set<string>();
  private readonly encoder = new SnapshotEncoder();
  /** Skips resources whose translation throws, so one bad write cannot stop the others (see translation-guard.ts). */
  private readonly guard: TranslationGuard;
  ports = { xds: 0, api: 0, ca: 0, otlp: 0, console: 0, webhook: 0 };
  private configDir?: ConfigDirSync;
  private console?: Server;
  readonly traces: TraceStore;
  private traceDisk?: TraceDisk;
  readonly metrics = new SeriesStore();
  readonly scraper: Scraper;
  private otlp?: Server;
  /** How DNS ServiceEntry hosts resolve, from --dns-resolver and MeshConfig dnsRefreshRate. */
  private readonly dns: DnsSettings;
  readonly jwks: JwksFetcher;
  /** APIs that other parts of the control plane mount on the REST port (telemetry, traces). */
  readonly apiRoutes: ApiRoute[] = [];
  /** Gateways' TLS secrets (credentialName), and what each gateway cannot serve. */
  readonly secretStore: SecretStore;
  private readonly gateways: GatewayReports;

  constructor(private readonly options: ControlPlaneOptions) {
    mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    this.log = options.log ?? ((l) => console.error(l));
    this.guard = new TranslationGuard(this.log);
    const quietMs = options.debounceMs ?? 100;
    this.debouncer = new Debouncer({ quietMs, maxMs: Math.max(quietMs, options.debounceMaxMs ?? 1000) }, () => this.push());
    const refresh = options.mesh?.dnsRefreshRateMs;
    this.dns = { resolvers: options.dnsResolvers ?? [], refreshRate: refresh === undefined ? DEFAULT_DNS.refreshRate : `${refresh / 1000}s` };
    this.store = options.kube?.store ?? options.replica?.store ?? new Store(options.stateDir);
    options.kube?.on("change", () => this.schedule());
    this.secretStore = new SecretStore(join(options.stateDir, "secrets"), () => this.schedule("gateway secrets changed"), this.log);
    this.gateways = new GatewayReports(this.log);
    this.apiRoutes.push(secretApi(this.secretStore), this.gateways.api(), gatewayApiStatusRoute(() => this.resources(), () => ({
      services: meshServices(this.workloads(), this.resources()), proxies: [...this.connected.values()], credentials: (ns, name) => this.secretStore.lookup(ns, name),
    })));
    this.jwks = new JwksFetcher(() => this.schedule("JSON Web Key Sets fetched"), this.log);
    this.traces = new TraceStore(options.traceStoreSpans, undefined, options.traceStoreBytes);
    if (options.traceStoreDir) this.traces.persistTo(this.traceDisk = new TraceDisk(options.traceStoreDir, options.traceStoreBytes ?? DEFAULT_TRACE_BYTES));
    this.apiRoutes.push(traceApi(this.traces, { jaegerUrl: options.jaegerUrl }), jaegerQueryApi(this.traces));
    this.scraper = new Scraper(this.metrics, () => [...this.connected.values()].filter((w) => w.adminAddress).map((w) => ({ address: w.adminAddress! })), options.scrapeIntervalMs ?? 15_000, this.log);
    const backend = options.prometheusUrl ? new PrometheusBackend(options.prometheusUrl) : new EmbeddedBackend(this.metrics);
    this.apiRoutes.push(telemetryApi(this.metrics, () => backend, this.metrics.retentionMs, this.options.healthConfig));
    this.apiRoutes.push(proxyConfigApi((id) => this.connected.get(id)?.adminAddress));
    this.apiRoutes.push(logsApi(options.stateDir, (id) => this.connected.has(id)));
    this.apiRoutes.push(caApi({
      authority: () => this.ca?.authority,
      proxies: () => this.ads.proxies().filter((p) => p.identity).map((p) => ({ id: p.node.id, admin: this.connected.get(p.node.id)?.adminAddress })),
      refusal: () => this.kubeIdentity?.rotationRefusal(),
      start: async () => {
        if (this.options.replica?.rootRotationRefused) throw new Error(this.options.replica.rootRotationRefused);
        await this.ca!.authority.rotateRoot();
        await this.kubeIdentity?.publishRoots();
        // The control plane's own certificate moves to the new root too; proxies trust it through the pushed bundle.
        await this.serving?.renew();
        await this.kubeIdentity?.rootsChanged();
        this.log("trellis control: root rotation started: a new root signs, the bundle trusts both; proxies renew their certificates");
        this.recompute();
      },
      finish: async () => {
        this.ca!.authority.finishRootRotation();
        await this.kubeIdentity?.publishRoots();
        await this.kubeIdentity?.rootsChanged();
        this.log("trellis control: root rotation finished: only the new root is trusted");
        this.recompute();
      },
    }));
    // What `trellis run --transparent` needs: the service VIPs for each workload's hosts file, and where sidecars
    // send spans (a loopback port it bridges into the namespace).
    this.apiRoutes.push(async (_req, res, url) => {
      if (url.pathname !== "/debug/transparent") return false;
      send(res, 200, { vips: Object.fromEntries(meshVips(meshServices(this.workloads(), this.resources()), this.workloads(), this.resources())), collector: this.tracing()?.collector ?? null });
      return true;
    });
    this.registry = new Registry(() => this.schedule());
    this.ads = new AdsServer({
      authorize: (ctx) => {
        const authn = this.options.authenticator ?? this.kubeIdentity?.authenticator ?? (this.ca ? tokenAuthenticator(this.ca.tokens) : undefined);
        const verdict = xdsAuthorizer(authn, () => this.ads.proxies(), (ns, name) => entryScope(this.store.get("WorkloadEntry", ns, name)))(ctx);
        const logRefusal = (v: Awaited<typeof verdict>) => (!v.ok && this.log(`trellis control: refusing xDS stream from ${ctx.peerAddress}: ${v.message}`), v);
        return verdict instanceof Promise ? verdict.then(logRefusal) : logRefusal(verdict);
      },
      onStreamOpen: (p) => {
        const { workload, error } = this.options.kube ? this.options.kube.proxyWorkload(p.node, p.identity) : workloadFromNode(p.node.id, p.node.metadata, nodeLocality(p.node.locality));
        // Kubernetes mode: a proxy whose pod is not known yet is configured by the recompute that sees the pod.
        if (!workload) return this.options.kube ? this.schedule() : this.log(`trellis control: refusing proxy ${p.node.id}: ${error}`);
        // A proxy that proved its identity got its certificate before it connected (trellis proxy asks the CA
        // first), so peers reach it with mutual TLS whatever its metadata says: a claim cannot turn mTLS off.
        if (p.identity) workload.mtls = true;
        for (const why of dropUnprovenAddresses(workload, p.peerAddress)) this.log(`trellis control: proxy ${p.node.id}: ignoring ${why}`);
        this.connected.set(p.node.id, workload);
        if (p.node.metadata.GENERATOR === "grpc") this.proxyless.add(p.node.id);
        // The new proxy is configured now; the others learn of its endpoint through the registry's debounced
        // recompute, so a hundred proxies connecting at once cost a few passes over the mesh, not a hundred.
        if (!this.options.kube) this.registry.upsert(workload);
        this.options.replica?.registered(workload);
        const resources = this.resources();
        this.configure(p.node.id, workload, resources, this.workloads(), this.secrets(), this.plan(resources, true));
      },
      onStreamClose: (p) => {
        if (!this.ads.proxies().some((x) => x.node.id === p.node.id)) {
          this.connected.delete(p.node.id);
          this.guard.forget(p.node.id);
          this.planner.forget(p.node.id);
          this.gateways.forget(p.node.id);
          this.registry.remove(p.node.id);
          this.options.replica?.unregistered(p.node.id);
        }
      },
      onNack: (p, type, _v, error) => this.log(`trellis control: ${p.node.id} rejected ${type.split(".").pop()}: ${error}`),
    });
    // Every accepted write gets a config generation; the push that follows records who it affects (propagation).
    this.store.on("event", (e: StoreEvent) => {
      this.ads.propagation.record({ kind: storeKindOf(e.object), namespace: e.object.metadata.namespace ?? "default", name: e.object.metadata.name, op: e.type, resourceVersion: e.object.metadata.resourceVersion, unchanged: sameContent(e) });
      this.schedule();
    });
    this.apiRoutes.push(propagationApi(this.ads.propagation), monitoringApi([() => this.ads.metrics.render()]));
  }

  async start(): Promise<void> {
    const host = this.options.host ?? "127.0.0.1";
    await this.options.kube?.start();
    if (this.options.caPort !== undefined) {
      if (this.options.kubeIdentity && !this.options.caPluginDir) await shareSelfSignedRoot(this.options.kubeIdentity, join(this.options.stateDir, "ca"), this.log);
      const authority = await CertificateAuthority.open({ dir: join(this.options.stateDir, "ca"), pluginDir: this.options.caPluginDir });
      this.ca = { authority, tokens: TokenIssuer.open(join(this.options.stateDir, "ca", "token-key"), authority.trustDomain) };
    }
    if (this.options.kubeIdentity) {
      if (!this.ca) throw new Error("Kubernetes mode needs the CA: workloads prove themselves with service-account tokens to it; give --ca-port");
      const kube = this.options.kube;
      // The leader writes Istio resources' status when the cluster is the store.
      const status = kube ? { list: () => kube.store.list(), on: (e: "event", l: () => void) => kube.store.on(e, l), off: (e: "event", l: () => void) => kube.store.off(e, l), context: () => this.analysisContext(),
        gatewayApiStatus: () => convertGatewayApi(this.resources(), { services: meshServices(this.workloads(), this.resources()), proxies: [...this.connected.values()], credentials: (ns: string, name: string) => this.secretStore.lookup(ns, name) }).status } : undefined;
      // A self-signed root is shared through a Secret: followers take the leader's rotations from it.
      const sharedRoot = this.options.caPluginDir ? undefined : { caDir: join(this.options.stateDir, "ca"), reloaded: () => this.rootsReloaded() };
      this.kubeIdentity = await startKubeIdentity({ status, sharedRoot, ...this.options.kubeIdentity }, this.ca.authority, this.log);
      if (this.kubeIdentity.webhook) this.ports.webhook = this.kubeIdentity.webhook.port;
    }
    this.ports.xds = await this.ads.listen(host, this.options.xdsPort ?? 15010, undefined, PRE_AUTH_SERVER_OPTIONS);
    const token = isLoopback(host) ? undefined : this.apiToken();
    const handler = restApi({
      store: this.store,
      version: CONTROL_VERSION,
      token,
      routes: this.apiRoutes,
      allowedHosts: this.options.allowedHosts,
      proxies: () => [...this.ads.proxies().map((p) => ({ ...p, workload: this.connected.get(p.node.id), configError: this.guard.errorOf(p.node.id) })), ...(this.options.replica?.remoteProxies() ?? [])],
      configErrors: () => ({ skippedResources: this.guard.skipped(this.resources()), proxies: this.ads.proxies().filter((p) => this.guard.errorOf(p.node.id)).map((p) => ({ id: p.node.id, error: this.guard.errorOf(p.node.id) })) }),
      meshContext: () => this.analysisContext(),
    });
    this.api = createServer(handler);
    await new Promise<void>((resolve, reject) => {
      this.api!.once("error", (e) => reject(new Error(`REST API: cannot bind ${host}:${this.options.apiPort ?? 15014}: ${e.message}`)));
      this.api!.listen(this.options.apiPort ?? 15014, host, () => resolve());
    });
    this.ports.api = (this.api.address() as { port: number }).port;
    const otlpPort = this.options.otlpPort ?? 4318;
    // The intake takes spans without authentication, so it stays on loopback whatever --host says: sidecars on this
    // machine (and transparent ones, through their port bridges) reach it there; others use --otlp-collector.
    this.otlp = await startOtlpIntake(this.traces, "127.0.0.1", otlpPort).catch((e: Error) => { throw new Error(`OTLP intake: cannot bind 127.0.0.1:${otlpPort}: ${e.message}`); });
    this.ports.otlp = (this.otlp.address() as { port: number }).port;
    this.scraper.start();
    if (this.options.configDir) {
      this.configDir = new ConfigDirSync(this.options.configDir, this.store, this.log, this.options.configDirIntervalMs);
      await this.configDir.start();
    }
    if (this.options.consolePort !== undefined) {
      this.console = await startConsole(handler, host, this.options.consolePort, this.options.allowedHosts);
      this.ports.console = (this.console.address() as { port: number }).port;
    }
    if (this.ca) {
      const { authority: ca, tokens } = this.ca;
      const server = new grpc.Server(PRE_AUTH_SERVER_OPTIONS);
      addCaService(server, ca, this.options.authenticator ?? this.kubeIdentity?.authenticator ?? tokens, { onDecision: (d) => !d.ok && this.log(`trellis control: CSR refused for ${d.peer}: ${d.reason}`) });
      this.ads.addTo(server, true);
      this.serving = await controlPlaneCredentials(ca, 24 * 3600_000, (err) => this.log(`trellis control: cannot renew the control plane's serving certificate, will retry: ${err.message}`));
      const { credentials } = this.serving;
      this.ports.ca = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${this.options.caPort}`, credentials, (e, p) => (e ? reject(e) : resolve(p))));
      this.caServer = server;
    }
  }

  /** What the analyzer knows of the mesh: its services and workloads (none known = checks that need them skipped). */
  private analysisContext(): AnalysisContext {
    const workloads = this.workloads();
    if (workloads.length === 0) return {};
    return { services: [...servicesOf(workloads).values()].map((s) => ({ hostname: s.hostname, namespace: s.namespace })), workloads: workloads.map((w) => ({ namespace: w.namespace, labels: w.labels, serviceAccount: w.serviceAccount })) };
  }

  /** Where sidecars send spans: the embedded intake unless a collector URL was given. */
  private tracing(): TracingSettings | undefined {
    const mesh = this.options.mesh ?? DEFAULT_MESH_CONFIG;
    const percent = this.options.traceSamplingPercent ?? mesh.tracingSampling ?? 1;
    if (percent <= 0 || !mesh.enableTracing) return undefined;
    if (this.options.otlpCollectorUrl) {
      const url = new URL(this.options.otlpCollectorUrl);
      return { samplingPercent: percent, collector: { address: url.hostname, port: Number(url.port || 80), path: url.pathname } };
    }
    return { samplingPercent: percent, collector: { address: "127.0.0.1", port: this.ports.otlp } };
  }

  /** A token for the REST API when it is reachable beyond loopback (created 0600 on first use, never logged). */
  private apiToken(): string {
    const path = join(this.options.stateDir, "api-token");
    if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
    return readFileSync(path, "utf8").trim();
  }

  /** A change: pushed once changes settle. `full`: a change outside the store and registry (every proxy is redone). */
  private schedule(full?: string): void {
    if (full) this.planner.requestFull(full);
    this.debouncer.notify();
  }

  /** The mesh's trust bundle as Istio's SDS name ROOTCA: during a root rotation it holds both roots, the signing one first. */
  private secrets(): Array<Record<string, unknown>> {
    return this.ca ? [{ name: "ROOTCA", validation_context: { trusted_ca: { inline_string: this.ca.authority.rootsPem() } } }] : [];
  }

  /** A follower's CA files changed (the leader rotated): sign with the new root, trust the new bundle, push it. */
  private async rootsReloaded(): Promise<void> {
    if (!(await this.ca?.authority.reload())) return;
    await this.serving?.renew();
    await this.kubeIdentity?.rootsChanged();
    this.log("trellis control: took the mesh root the leader rotated from its Secret; proxies get the new bundle");
    this.recompute();
  }

  /** Translates every connected proxy afresh; the ADS server sends only the types whose content changed. */
  recompute(): void {
    this.planner.requestFull("recompute requested");
    this.push();
  }

  /**
   * A push: the proxies a change may concern are translated (from the push index, reusing what the change did not
   * touch), the others keep their snapshots; the ADS server sends only the types whose content changed.
   */
  private push(): void {
    this.options.kube?.resolveProxies(this.ads.proxies(), this.connected);
    const resources = this.resources();
    const workloads = this.workloads();
    const secrets = this.secrets();
    const plan = this.plan(resources, false);
    this.encoder.nextGeneration();
    for (const [id, proxy] of this.connected) {
      if (plan && !this.guard.errorOf(id) && !this.planner.affects(id, proxy, plan.changes, this.proxyless.has(id))) continue;
      this.configure(id, proxy, resources, workloads, secrets, plan);
    }
    for (const skipped of this.guard.skipped(resources)) this.ads.propagation.skipped(skipped);
    this.ads.propagation.pushed();
  }

  /** The push index over the guard's usable resources; undefined when it cannot be built (each proxy then builds its own, guarded). */
  private plan(resources: IstioResource[], forOne: boolean): ReturnType<PushPlanner["plan"]> | undefined {
    try {
      return this.planner.plan(this.guard.usable(resources), this.workloads(), forOne);
    } catch (err) {
      this.planner.requestFull(`the push index could not be built: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Registered workloads: the proxies' own in universal mode, Service endpoints on Kubernetes. */
  private workloads(): Workload[] {
    return this.options.kube?.workloads() ?? this.registry.list();
  }

  /** The store's resources, and on Kubernetes what Services imply (ExternalName as ServiceEntries). */
  private resources(): IstioResource[] {
    const stored = this.store.list();
    return this.options.kube ? [...stored, ...this.options.kube.resources()] : stored;
  }

  private configure(id: string, proxy: Workload, resources: IstioResource[], workloads: Workload[], secrets: Array<Record<string, unknown>>, plan?: { index: PushIndex }): void {
    const hosts = new Set<string>();
    // The shared index holds the guard's usable resources: a retry without some of them builds its own.
    const out = this.guard.run(id, resources, (rs) => translate({ resources: rs, workloads, proxy, index: rs === plan?.index.resources ? plan.index : undefined, hostsConsidered: hosts, credentials: (ns, name) => this.secretStore.lookup(ns, name), localityLbSetting: this.options.mesh?.localityLbSetting, proxyless: this.proxyless.has(id), jwks: (uri) => this.jwks.get(uri), tracing: this.tracing(), rootNamespace: this.options.mesh?.rootNamespace, extAuthzProviders: this.options.mesh?.extensionProviders, accessLog: accessLogOf(this.options.mesh), telemetry: { providers: this.options.mesh?.telemetryProviders ?? [], defaults: this.options.mesh?.defaultProviders }, dns: this.dns, outboundTrafficPolicy: this.options.mesh?.outboundTrafficPolicy, pathNormalization: this.options.mesh?.pathNormalization }));
    if (!out) return this.ads.propagation.snapshotFailed(id, this.ads.propagation.generation, this.guard.errorOf(id) ?? "its configuration cannot be built");
    try {
      this.ads.setSnapshot(id, this.encoder.snapshot(out, out.secrets?.length ? [...secrets, ...out.secrets] : secrets));
      this.gateways.record(id, out.gatewayProblems, out.listeners);
      this.planner.configuredAs(id, proxy, hosts);
    } catch (err) {
      this.guard.fail(id, `its configuration cannot be served: ${(err as Error).message}; it keeps the last configuration it was sent`);
    }
  }

  async stop(): Promise<void> {
    this.debouncer.cancel();
    this.registry.close();
    this.jwks.close();
    this.scraper.stop();
    this.configDir?.stop();
    await this.kubeIdentity?.stop();
    await this.ads.close();
    await this.traceDisk?.close();
    await this.options.kube?.stop();
    this.caServer?.forceShutdown();
    this.serving?.stop();
    if (this.console) {
      this.console.closeAllConnections();
      await new Promise((r) => this.console!.close(r));
    }
    if (this.otlp) {
      this.otlp.closeAllConnections();
      await new Promise((r) => this.otlp!.close(r));
    }
    if (this.api) {
      this.api.closeAllConnections();
      await new Promise((r) => this.api!.close(r));
    }
  }
}

/** A MODIFIED event whose object kept its spec, labels and annotations: a rewrite no proxy can see. */
function sameContent(e: StoreEvent): boolean {
  if (e.type !== "MODIFIED" || !e.previous) return false;
  const content = (r: IstioResource) => JSON.stringify([r.spec, r.metadata.labels ?? {}, r.metadata.annotations ?? {}]);
  return content(e.previous) === content(e.object);
}
