// GET /api/v1/proxies/ID/logs?container=app|sidecar&tail=N: a workload's output as `trellis run` kept it under the
// state directory (STATE/workloads/ID.log), newest last, for the console's Logs tab. Only connected proxies' logs
// are served, and the ID is matched against them, so no path outside that folder can be named.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { send, status, type ApiRoute } from "./rest-api.js";

const MAX_TAIL = 5000;

export interface LogLine { time: string; container: string; text: string }

export function parseLogLines(text: string): LogLine[] {
  return text.split("\n").filter(Boolean).map((l) => {
    const m = /^(\S+) (app|sidecar) (.*)$/.exec(l);
    return m ? { time: m[1], container: m[2], text: m[3] } : { time: "", container: "", text: l };
  });
}

/** A log file whole: `trellis run` rotates it at 2 MiB, so reading it is bounded. */
function read(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

export function logsApi(stateDir: string, connected: (id: string) => boolean): ApiRoute {
  return (req, res, url) => {
    const m = /^\/api\/v1\/proxies\/([^/]+)\/logs$/.exec(url.pathname);
    if (!m) return false;
    const id = decodeURIComponent(m[1]);
    if (req.method !== "GET") return status(res, 405, "MethodNotAllowed", "GET /api/v1/proxies/ID/logs"), true;
    if (!connected(id) || !/^[\w.-]+$/.test(id)) return status(res, 404, "NotFound", `no connected proxy ${id}; see /debug/proxies for the connected ones`), true;
    const container = url.searchParams.get("container") ?? "";
    if (container && container !== "app" && container !== "sidecar") return status(res, 400, "BadRequest", `container: "${container}" is neither app nor sidecar`), true;
    const tailText = url.searchParams.get("tail") ?? "500";
    const tail = Number(tailText);
    if (!Number.isInteger(tail) || tail < 1 || tail > MAX_TAIL) return status(res, 400, "BadRequest", `tail: "${tailText}" must be a whole number from 1 to ${MAX_TAIL}`), true;
    const file = join(stateDir, "workloads", `${id}.log`);
    if (!existsSync(file)) return status(res, 404, "NotFound", `no logs kept for ${id}: only workloads started by \`trellis run\` with this control plane's --state-dir have them (on Kubernetes, read the pod's logs)`), true;
    const lines = parseLogLines(read(`${file}.1`) + read(file)).filter((l) => !container || l.container === container);
    send(res, 200, { proxy: id, lines: lines.slice(-tail) });
    return true;
  };
}
