// Starts a proxy from an Envoy bootstrap: static resources, admin and readiness endpoints, and (when configured) ADS.
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { parse as parseYaml } from "yaml";
import type { Bootstrap__Output } from "../xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import { formatErrors, type Result } from "../xds/result.js";
import { parseMessage, toProto3Json } from "../xds/resource.js";
import { adminHandler, listenHttp, readinessHandler } from "./admin/admin-server.js";
import { Proxy } from "./proxy.js";

export const PROXY_VERSION = "trellis/0.1.0";

export interface ProxyOptions {
  /** Overrides the bootstrap's admin port (0 = any free port). */
  adminPort?: number;
  adminAddress?: string;
  /** Readiness (/healthz/ready); undefined = none, 0 = any free port. */
  readinessPort?: number;
  drainTimeoutMs?: number;
  onQuit?: () => void;
}

export interface RunningProxy {
  proxy: Proxy;
  bootstrap: Bootstrap__Output;
  adminPort: number;
  readinessPort?: number;
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

export async function startProxy(bootstrap: Bootstrap__Output, options: ProxyOptions = {}): Promise<RunningProxy> {
  const proxy = new Proxy();
  if (options.drainTimeoutMs !== undefined) proxy.drainTimeoutMs = options.drainTimeoutMs;
  const sr = bootstrap.static_resources;
  let initialized = false;
  if (sr) {
    const clusters = proxy.applyClusters(sr.clusters, "static", true);
    if (!clusters.ok) throw new Error(`static_resources.clusters: ${formatErrors(clusters.errors)}`);
    const listeners = await proxy.applyListeners(sr.listeners, "static", true);
    if (!listeners.ok) throw new Error(`static_resources.listeners: ${formatErrors(listeners.errors)}`);
  }
  if (bootstrap.dynamic_resources?.ads_config) throw new Error("dynamic_resources.ads_config: ADS is not available in this build");
  initialized = true;
  const servers: Server[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= (async () => {
    await proxy.close();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  })());
  const adminOpts = {
    proxy, bootstrap: () => toProto3Json("envoy.config.bootstrap.v3.Bootstrap", bootstrap), ready: () => initialized, version: PROXY_VERSION,
    onQuit: options.onQuit ?? (() => void stop()), nodeId: bootstrap.node?.id ?? "",
  };
  const adminSock = bootstrap.admin?.address?.socket_address;
  const adminHost = options.adminAddress ?? adminSock?.address ?? "127.0.0.1";
  const admin = await listenHttp(adminHandler(adminOpts), adminHost, options.adminPort ?? adminSock?.port_value ?? 15000);
  servers.push(admin);
  let readinessPort: number | undefined;
  if (options.readinessPort !== undefined) {
    const r = await listenHttp(readinessHandler(adminOpts), adminHost, options.readinessPort);
    servers.push(r);
    readinessPort = (r.address() as { port: number }).port;
  }
  return { proxy, bootstrap, adminPort: (admin.address() as { port: number }).port, readinessPort, ready: () => initialized, stop };
}
