// Starts a proxy from an Envoy bootstrap: static resources, admin and readiness endpoints, and (when configured) ADS.
import { randomUUID, X509Certificate } from "node:crypto";
import type { Listener__Output } from "../xds/generated/envoy/config/listener/v3/Listener.js";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { parse as parseYaml } from "yaml";
import type { Bootstrap__Output } from "../xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import { formatErrors, type Result } from "../xds/result.js";
import { parseMessage, toProto3Json } from "../xds/resource.js";
import { adminHandler, type AdminOptions, listenHttp, readinessHandler } from "./admin/admin-server.js";
import { type AppMetricsTarget, mergedMetricsHandler } from "./admin/merged-metrics.js";
import { Proxy } from "./proxy.js";
import { unhonouredFields } from "./config/field-check.js";
import { startFileXds } from "./xds-files.js";
import { Runtime } from "./runtime/runtime.js";
import type { AdsClient } from "../xds/ads-client.js";
import type { ResourceKind } from "../xds/resource.js";
import { mergeRoots, startXdsClients } from "./xds-sources.js";
import { CaClient, type WorkloadCertificate } from "../identity/ca-client.js";
import { splitPem } from "../identity/x509.js";

export const PROXY_VERSION = "trellis/0.1.0";

export interface ProxyOptions {
  /** Overrides the bootstrap's admin port (0 = any free port). */
  adminPort?: number;
  adminAddress?: string;
  /** Readiness (/healthz/ready); undefined = none, 0 = any free port. */
  readinessPort?: number;
  /** Where the readiness port binds (default: the admin's address; in a pod, where the kubelet probes). */
  readinessAddress?: string;
  /** The app's rewritten Kubernetes probes, answered on the readiness port (admin/app-probers.ts). */
  appProbers?: AdminOptions["appProbers"];
  /** Istio's agent port (15020): the proxy's and the app's metrics merged; undefined = none, 0 = any free port. */
  statsPort?: number;
  /** Where the stats port binds (default: the admin's address). */
  statsAddress?: string;
  /** Where the app serves its own Prometheus metrics, for the merged /stats/prometheus. */
  appMetrics?: AppMetricsTarget;
  drainTimeoutMs?: number;
  onQuit?: () => void;
  /** Get this workload's certificate from the CA (IstioCertificateService over TLS) and serve it as SDS "default"/"ROOTCA". */
  ca?: { address: string; token: () => string; rootsPem: string; ttlSeconds?: number };
}

export interface RunningProxy {
  proxy: Proxy;
  bootstrap: Bootstrap__Output;
  adminPort: number;
  readinessPort?: number;
  statsPort?: number;
  ready(): boolean;
  /** Drains then stops everything. */
  stop(): Promise<void>;
}

/** Reads and validates a bootstrap file (YAML or JSON, as Envoy's docs write it). */
export function readBootstrap(path: string): Result<Bootstrap__Output> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    return { ok: false, errors: [{ path: "", message: `cannot read ${path}: ${(err as Error).message}` }] };
  }
  let json: unknown;
  try {
    json = parseYaml(text);
  } catch (err) {
    return { ok: false, errors: [{ path: "", message: `${path} is not valid YAML or JSON: ${(err as Error).message}` }] };
  }
  return parseMessage<Bootstrap__Output>("envoy.config.bootstrap.v3.Bootstrap", json);
}

/**
 * Root rotation: the control plane's bundle (SDS "ROOTCA") lists the root that signs now first. A certificate from
 * another root is replaced at once, so every workload holds a new-root certificate before the old root is dropped.
 */
function renewOnNewRoot(proxy: Proxy, caClient: CaClient): void {
  const bundle = proxy.secret("ROOTCA")?.caPem;
  const current = caClient.certificate();
  if (!bundle || !current) return;
  const signing = splitPem(bundle)[0];
  if (!signing || fingerprint(signing) === fingerprint(current.rootsPem)) return;
  console.error("trellis proxy: the mesh's trust bundle has a new signing root; renewing this workload's certificate now");
  caClient.renewNow();
}

function fingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return pem;
  }
}


function structToPlain(s: unknown): Record<string, unknown> {
  const v = s as { fields?: Record<string, Record<string, unknown>> } | null | undefined;
  const conv = (x: Record<string, unknown>): unknown => {
    switch (x.kind) {
      case "stringValue": return x.stringValue;
      case "numberValue": return x.numberValue;
      case "boolValue": return x.boolValue;
      case "structValue": return structToPlain(x.structValue);
      case "listValue": return ((x.listValue as { values?: Array<Record<string, unknown>> })?.values ?? []).map(conv);
      default: return null;
    }
  };
  return Object.fromEntries(Object.entries(v?.fields ?? {}).map(([k, x]) => [k, conv(x)]));
}

/**
 * Static listeners may be unnamed (Envoy's front-proxy example, Istio's bootstrap); Envoy gives each an internal UUID.
 * Without one, the second unnamed listener would replace the first in the proxy's map, and shutdown would miss it.
 */
function nameListeners(list: Listener__Output[]): Listener__Output[] {
  return list.map((l) => (l.name ? l : { ...l, name: randomUUID() }));
}

export async function startProxy(bootstrap: Bootstrap__Output, options: ProxyOptions = {}): Promise<RunningProxy> {
  const proxy = new Proxy();
  proxy.nodeId = bootstrap.node?.id ?? "";
  proxy.nodeCluster = bootstrap.node?.cluster ?? "";
  proxy.runtime = Runtime.fromBootstrap(bootstrap.layered_runtime, proxy.nodeCluster, "layered_runtime");
  if (options.drainTimeoutMs !== undefined) proxy.drainTimeoutMs = options.drainTimeoutMs;
  const meta = structToPlain(bootstrap.node?.metadata);
  if (typeof meta.NAMESPACE === "string") {
    const labels = (meta.LABELS ?? {}) as Record<string, string>;
    const ns = meta.NAMESPACE;
    proxy.setIdentity(
      { workload: String(meta.WORKLOAD_NAME ?? bootstrap.node?.id ?? "unknown"), namespace: ns, app: labels.app ?? "unknown", version: labels.version ?? "unknown", principal: options.ca ? `spiffe://cluster.local/ns/${ns}/sa/${String(meta.SERVICE_ACCOUNT ?? "default")}` : "unknown", cluster: String(meta.CLUSTER_ID ?? "Kubernetes") },
      typeof meta.SERVICE === "string" ? `${meta.SERVICE}.${ns}.svc.cluster.local` : undefined,
    );
  }
  // Static resources are checked as they are applied, like those from xDS; here the rest of the bootstrap.
  const unhonoured = unhonouredFields("envoy.config.bootstrap.v3.Bootstrap", { ...bootstrap, static_resources: null });
  if (unhonoured.length) throw new Error(formatErrors(unhonoured));
  const sr = bootstrap.static_resources;
  let initialized = false;
  if (sr) {
    const clusters = proxy.applyClusters(sr.clusters, "static", true);
    if (!clusters.ok) throw new Error(`static_resources.clusters: ${formatErrors(clusters.errors)}`);
    const listeners = await proxy.applyListeners(nameListeners(sr.listeners), "static", true);
    if (!listeners.ok) throw new Error(`static_resources.listeners: ${formatErrors(listeners.errors)}`);
  }
  const files = startFileXds(bootstrap, proxy);
  try {
    await files?.loadAll();
  } catch (err) {
    files?.close();
    await proxy.close();
    throw err;
  }
  let caClient: CaClient | undefined;
  let certReady = !options.ca;
  if (options.ca) {
    if (typeof meta.NAMESPACE !== "string") throw new Error("--ca needs the node metadata NAMESPACE and SERVICE_ACCOUNT to know which identity to ask for");
    const configured = options.ca.rootsPem;
    caClient = new CaClient({ address: options.ca.address, caRootsPem: () => mergeRoots(configured, proxy.secret("ROOTCA")?.caPem ?? ""), token: options.ca.token, ttlSeconds: options.ca.ttlSeconds,
      identity: { trustDomain: "cluster.local", namespace: meta.NAMESPACE, serviceAccount: String(meta.SERVICE_ACCOUNT ?? "default") } });
    caClient.on("certificate", (c: WorkloadCertificate) => {
      proxy.setSecret("default", { certChainPem: c.certChainPem, keyPem: c.keyPem, issuerRootPem: c.rootsPem });
      proxy.setSecret("ROOTCA", { caPem: c.rootsPem });
      certReady = true;
    });
    caClient.on("failure", (err: Error) => console.error(`trellis proxy: certificate renewal failed, will retry: ${err.message}`));
    try {
      await caClient.start();
    } catch (err) {
      caClient.close();
      throw new Error(`cannot get this workload's certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  let xds: AdsClient[] = [];
  const synced = new Set<string>();
  const apply = async (kind: ResourceKind, resources: Map<string, unknown>, _removed: string[], version: string): Promise<Result<void>> => {
    const list = [...resources.values()];
    let r: Result<void>;
    switch (kind) {
      case "cluster": r = proxy.applyClusters(list as never, version); break;
      case "endpoint": r = proxy.applyEndpoints(list as never, version); break;
      case "route": r = proxy.applyRoutes(list as never, version); break;
      case "listener": r = await proxy.applyListeners(list as never, version); break;
      case "secret":
        r = proxy.applySecrets(list as never, version);
        if (r.ok && caClient) renewOnNewRoot(proxy, caClient);
        break;
    }
    if (r.ok) synced.add(kind);
    // Ready once the first clusters and listeners are in (Envoy's initial fetch).
    if (synced.has("cluster") && synced.has("listener") && certReady) initialized = true;
    return r;
  };
  try {
    xds = startXdsClients(bootstrap, {
      secrets: (name) => proxy.secret(name), meshRoots: () => proxy.secret("ROOTCA")?.caPem ?? "", token: options.ca?.token,
      node: { id: bootstrap.node?.id ?? "", cluster: bootstrap.node?.cluster ?? "", metadata: meta, ...(bootstrap.node?.locality ? { locality: bootstrap.node.locality } : {}) },
      subscriptions: () => proxy.subscriptions(),
      apply,
      onConnectionState: (state, err) => {
        if (state === "disconnected") console.error(`trellis proxy: lost the xDS server${err ? ` (${err.message})` : ""}; serving the last good config`);
      },
    });
  } catch (err) {
    files?.close();
    caClient?.close();
    await proxy.close();
    throw err;
  }
  if (xds.length === 0) initialized = true;
  const servers: Server[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    for (const c of xds) c.close();
    files?.close();
    caClient?.close();
    await proxy.close();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  })());
  const adminOpts = {
    proxy, bootstrap: () => toProto3Json("envoy.config.bootstrap.v3.Bootstrap", bootstrap), ready: () => initialized, version: PROXY_VERSION,
    onQuit: options.onQuit ?? (() => void stop()), nodeId: bootstrap.node?.id ?? "", appProbers: options.appProbers,
  };
  const adminSock = bootstrap.admin?.address?.socket_address;
  const adminHost = options.adminAddress ?? adminSock?.address ?? "127.0.0.1";
  const admin = await listenHttp(adminHandler(adminOpts), adminHost, options.adminPort ?? adminSock?.port_value ?? 15000);
  servers.push(admin);
  let readinessPort: number | undefined;
  if (options.readinessPort !== undefined) {
    const r = await listenHttp(readinessHandler(adminOpts), options.readinessAddress ?? adminHost, options.readinessPort);
    servers.push(r);
    readinessPort = (r.address() as { port: number }).port;
  }
  let statsPort: number | undefined;
  if (options.statsPort !== undefined) {
    const s = await listenHttp(mergedMetricsHandler(proxy, () => initialized, options.appMetrics), options.statsAddress ?? adminHost, options.statsPort);
    servers.push(s);
    statsPort = (s.address() as { port: number }).port;
  }
  return { proxy, bootstrap, adminPort: (admin.address() as { port: number }).port, readinessPort, statsPort, ready: () => initialized, stop };
}
