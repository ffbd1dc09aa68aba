// Test harness for the proxy: real upstream servers on 127.0.0.1:0 and a proxy started in-process from a bootstrap.
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseMessage } from "../../src/xds/resource.js";
import type { Bootstrap__Output } from "../../src/xds/generated/envoy/config/bootstrap/v3/Bootstrap.js";
import { startProxy, type RunningProxy } from "../../src/proxy/bootstrap.js";

export interface Backend {
  port: number;
  hits: number;
  server: Server;
  close(): Promise<void>;
}

export async function backend(handler: (req: IncomingMessage, res: ServerResponse, b: Backend) => void): Promise<Backend> {
  const b = { hits: 0 } as Backend;
  const server = createServer((req, res) => {
    b.hits++;
    handler(req, res, b);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  b.server = server;
  b.port = (server.address() as AddressInfo).port;
  b.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  return b;
}

/** A backend that answers with its name, the path and the headers it got, as JSON. */
export function echo(name: string): Promise<Backend> {
  return backend((req, res) => {
    const body = JSON.stringify({ name, path: req.url, method: req.method, headers: req.headers });
    res.writeHead(200, { "content-type": "application/json", "x-backend": name });
    res.end(body);
  });
}

export const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };

export function staticCluster(name: string, ports: number[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name, type: "STATIC", connect_timeout: "1s",
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((port) => ({ endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } } })) }] },
    ...extra,
  };
}

export function httpListener(name: string, routeConfig: Record<string, unknown>, httpFilters: unknown[] = [ROUTER], hcmExtra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
    filter_chains: [{ filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: { "@type": HCM, stat_prefix: name, route_config: routeConfig, http_filters: httpFilters, ...hcmExtra } }] }],
  };
}

export function bootstrap(listeners: unknown[], clusters: unknown[]): Bootstrap__Output {
  const parsed = parseMessage<Bootstrap__Output>("envoy.config.bootstrap.v3.Bootstrap", {
    node: { id: "test", cluster: "test" },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: { listeners, clusters },
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

export interface TestProxy extends RunningProxy {
  port(listener?: string): number;
  url(path: string, listener?: string): string;
}

export async function proxy(listeners: unknown[], clusters: unknown[]): Promise<TestProxy> {
  const running = await startProxy(bootstrap(listeners, clusters), { adminPort: 0, drainTimeoutMs: 200 });
  const port = (listener?: string) => {
    const l = running.proxy.listenerAddresses().find((x) => !listener || x.name === listener);
    if (!l) throw new Error(`no listener ${listener}`);
    return l.port;
  };
  return Object.assign(running, { port, url: (path: string, listener?: string) => `http://127.0.0.1:${port(listener)}${path}` });
}

const agent = new Agent({ keepAlive: true });

/** A GET (or other method) with any headers, Host included, over a keep-alive connection. */
export function get(url: string, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<{ status: number; headers: IncomingHttpHeaders; text: string; json: () => Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on("error", reject);
    // Bounded: a test never waits forever on a proxy that accepted and then went quiet.
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url} within 10 s`)));
    req.end(body);
  });
}
