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
import { AdsClient } from "../xds/ads-client.js";
import { CaClient, type WorkloadCertificate } from "../identity/ca-client.js";
import * as grpc from "@grpc/grpc-js";
import { buildUpstreamTls } from "./upstream/upstream-tls.js";
import { splitPem } from "../identity/x509.js";
import type { SecretLookup } from "./tls/tls-context.js";

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
 * Where ADS goes and how: google_grpc's target_uri (and its ssl_credentials), or the static cluster envoy_grpc names
 * (and its TLS transport socket: trusted CA, SNI, client certificate).
 */
function adsChannel(b: Bootstrap__Output, secrets: SecretLookup, meshRoots: () => string): { target: string | string[]; credentials?: () => grpc.ChannelCredentials; channelOptions?: grpc.ChannelOptions } {
  const where = "dynamic_resources.ads_config.grpc_services[0]";
  const svc = b.dynamic_resources!.ads_config!.grpc_services[0];
  if (!svc) throw new Error("dynamic_resources.ads_config.grpc_services: name the xDS server (envoy_grpc.cluster_name or google_grpc.target_uri)");
  if (svc.google_grpc?.target_uri) {
    const ssl = svc.google_grpc.channel_credentials?.ssl_credentials;
    if (!ssl) return { target: svc.google_grpc.target_uri };
    const read = (d: typeof ssl.root_certs) => (d?.inline_string || d?.inline_bytes?.length ? Buffer.from(d.inline_string || d.inline_bytes!) : d?.filename ? readFileSync(d.filename) : null);
    const creds = grpc.credentials.createSsl(read(ssl.root_certs), read(ssl.private_key), read(ssl.cert_chain));
    return { target: svc.google_grpc.target_uri, credentials: () => creds };
  }
  const name = svc.envoy_grpc?.cluster_name;
  const cluster = b.static_resources?.clusters.find((c) => c.name === name);
  // Every endpoint of the cluster is a control-plane replica the ADS client fails over between.
  const socks = (cluster?.load_assignment?.endpoints ?? []).flatMap((e) => e.lb_endpoints.map((l) => l.endpoint?.address?.socket_address)).filter((a) => !!a);
  if (socks.length === 0) throw new Error(`${where}.envoy_grpc.cluster_name: "${name}" must be a static cluster with an endpoint`);
  const target = socks.map((sock) => `${sock!.address.includes(":") ? `[${sock!.address}]` : sock!.address}:${sock!.port_value}`);
  const tls = cluster!.transport_socket ? buildUpstreamTls(cluster!.transport_socket, secrets, `static_resources.clusters[${name}]`) : undefined;
  // envoy_grpc.authority: the :authority the xDS server sees (Envoy's default: the cluster's name).
  const authority = svc.envoy_grpc?.authority ? { "grpc.default_authority": svc.envoy_grpc.authority } : {};
  if (!tls) return { target, channelOptions: authority };
  const m = tls.material();
  if (!m.ca) throw new Error(`static_resources.clusters[${name}].transport_socket: the xDS server's TLS needs a trusted CA (validation_context.trusted_ca)`);
  // The configured CA plus the mesh's current trust bundle: after a root rotation the control plane's certificate
  // comes from the new root, which the bootstrap's file may predate.
  let last: { roots: string; creds: grpc.ChannelCredentials } | undefined;
  const credentials = () => {
    const roots = mergeRoots(m.ca!, meshRoots());
    if (last?.roots !== roots) last = { roots, creds: grpc.credentials.createSsl(Buffer.from(roots), m.key ? Buffer.from(m.key) : null, m.cert ? Buffer.from(m.cert) : null) };
    return last.creds;
  };
  return { target, credentials, channelOptions: { ...authority, ...(tls.servername ? { "grpc.ssl_target_name_override": tls.servername } : {}) } };
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

/** The union of two PEM bundles, each certificate once. */
function mergeRoots(a: string, b: string): string {
  return [...new Set([...splitPem(a), ...splitPem(b)])].join("");
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
  let ads: AdsClient | undefined;
  if (bootstrap.dynamic_resources?.ads_config) {
    const synced = new Set<string>();
    const channel = adsChannel(bootstrap, (name) => proxy.secret(name), () => proxy.secret("ROOTCA")?.caPem ?? "");
    const token = options.ca?.token;
    const initialMetadata = bootstrap.dynamic_resources.ads_config.grpc_services[0]?.initial_metadata ?? [];
    ads = new AdsClient({
      ...channel,
      // The bootstrap token proves who this proxy is to the control plane, as it does to the CA.
      metadata: token || initialMetadata.length ? () => {
        const md = new grpc.Metadata();
        for (const h of initialMetadata) md.add(h.key.toLowerCase(), h.value);
        if (token) md.set("authorization", `Bearer ${token()}`);
        return md;
      } : undefined,
      node: { id: bootstrap.node?.id ?? "", cluster: bootstrap.node?.cluster ?? "", metadata: meta, ...(bootstrap.node?.locality ? { locality: bootstrap.node.locality } : {}) },
      subscriptions: () => proxy.subscriptions(),
      apply: async (kind, resources, _removed, version) => {
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
      },
      onConnectionState: (state, err) => {
        if (state === "disconnected") console.error(`trellis proxy: lost the xDS server${err ? ` (${err.message})` : ""}; serving the last good config`);
      },
    });
    ads.start();
  } else initialized = true;
  const servers: Server[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    ads?.close();
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
