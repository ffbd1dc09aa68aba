// The health port's /app-health/<container>/readyz|livez|startupz (Istio's probe rewriting): the kubelet's probes of
// the app arrive here, and the sidecar runs the app's original probe (ISTIO_KUBE_APP_PROBERS) and answers with its
// outcome. The sidecar's uid is exempt from interception, so its probe reaches the app directly, in plaintext.
import { request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";

export type AppProber = { httpGet: { path: string; port: number; host?: string; scheme: string; httpHeaders?: Array<{ name: string; value: string }> }; timeoutSeconds: number }
  | { tcpSocket: { port: number; host?: string }; timeoutSeconds: number };

const PATH = /^\/app-health\/[^/]+\/(readyz|livez|startupz)$/;

function validPort(p: unknown): boolean {
  return typeof p === "number" && Number.isInteger(p) && p > 0 && p < 65536;
}

/** Parses ISTIO_KUBE_APP_PROBERS; errors name the path and field, so a bad injection is visible at start. */
export function parseAppProbers(json: string): { ok: true; value: Map<string, AppProber> } | { ok: false; error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    return { ok: false, error: `ISTIO_KUBE_APP_PROBERS is not JSON: ${(err as Error).message}` };
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) return { ok: false, error: "ISTIO_KUBE_APP_PROBERS must map /app-health/... paths to probes" };
  const out = new Map<string, AppProber>();
  for (const [path, p] of Object.entries(doc as Record<string, Record<string, unknown>>)) {
    if (!PATH.test(path)) return { ok: false, error: `ISTIO_KUBE_APP_PROBERS: "${path}" is not /app-health/CONTAINER/readyz|livez|startupz` };
    const get = p?.httpGet as Record<string, unknown> | undefined;
    const tcp = p?.tcpSocket as Record<string, unknown> | undefined;
    if (get && validPort(get.port) && (get.scheme === undefined || get.scheme === "HTTP" || get.scheme === "HTTPS")) {
      out.set(path, { httpGet: { path: typeof get.path === "string" ? get.path : "/", port: get.port as number, host: typeof get.host === "string" ? get.host : undefined, scheme: (get.scheme as string | undefined) ?? "HTTP", httpHeaders: Array.isArray(get.httpHeaders) ? (get.httpHeaders as Array<{ name: string; value: string }>) : undefined }, timeoutSeconds: Number(p.timeoutSeconds ?? 1) || 1 });
    } else if (tcp && validPort(tcp.port)) {
      out.set(path, { tcpSocket: { port: tcp.port as number, host: typeof tcp.host === "string" ? tcp.host : undefined }, timeoutSeconds: Number(p.timeoutSeconds ?? 1) || 1 });
    } else return { ok: false, error: `ISTIO_KUBE_APP_PROBERS["${path}"] needs httpGet {port, path, scheme HTTP|HTTPS} or tcpSocket {port}` };
  }
  return { ok: true, value: out };
}

/** Runs one probe against the app at `appHost` (the pod's IP, as the kubelet would) unless the probe names a host. */
export function runProbe(p: AppProber, appHost: string): Promise<{ ok: boolean; detail: string }> {
  const timeout = p.timeoutSeconds * 1000;
  if ("tcpSocket" in p) {
    return new Promise((resolve) => {
      const socket = connect({ host: p.tcpSocket.host ?? appHost, port: p.tcpSocket.port, timeout });
      socket.once("connect", () => { socket.destroy(); resolve({ ok: true, detail: "connected" }); });
      socket.once("timeout", () => { socket.destroy(); resolve({ ok: false, detail: `no connection within ${timeout} ms` }); });
      socket.once("error", (err) => resolve({ ok: false, detail: err.message }));
    });
  }
  const g = p.httpGet;
  const send = g.scheme === "HTTPS" ? httpsRequest : httpRequest;
  const headers = Object.fromEntries((g.httpHeaders ?? []).map((h) => [h.name, h.value]));
  return new Promise((resolve) => {
    // Like the kubelet: HTTPS is not verified, 200-399 is success.
    const req = send({ host: g.host ?? appHost, port: g.port, path: g.path, timeout, headers: { "user-agent": "kube-probe/trellis", ...headers }, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, detail: `the app answered ${code}` });
    });
    req.once("timeout", () => req.destroy(new Error(`no answer within ${timeout} ms`)));
    req.once("error", (err) => resolve({ ok: false, detail: err.message }));
    req.end();
  });
}

/** Answers /app-health/... when it is one of the probers; false when the path is not one (the caller answers 404). */
export function appHealth(probers: Map<string, AppProber>, appHost: string, req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? "").split("?")[0];
  const prober = probers.get(path);
  if (!prober) return false;
  runProbe(prober, appHost).then(({ ok, detail }) => {
    res.writeHead(ok ? 200 : 503, { "content-type": "text/plain; charset=UTF-8" });
    res.end(ok ? "" : `${detail}\n`);
  }, () => { res.writeHead(503).end(); });
  return true;
}
