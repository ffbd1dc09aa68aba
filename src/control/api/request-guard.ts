// What a browser must not be able to do to the loopback REST API and the console: write from another origin (a page
// the user visits posting text/plain, which a browser sends without asking) or read through DNS rebinding (a name the
// attacker controls resolving to 127.0.0.1, so the browser calls it same-origin). Writes must be same-origin and,
// with a body, application/json (which a cross-origin page cannot send without a CORS preflight, which we never
// grant); every request must name a Host we serve: an IP address, localhost, or a name given with --allowed-host.
import { isIP } from "node:net";
import type { IncomingMessage } from "node:http";

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export type Refusal = { status: number; reason: string; message: string };

/** The host part of a Host header ("[::1]:8080" -> "::1", "Example.com." -> "example.com"). */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  const name = h.startsWith("[") ? h.slice(1, h.indexOf("]")) : h.replace(/:\d+$/, "");
  return name.replace(/\.$/, "");
}

export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (header === undefined) return true; // HTTP/1.0 without Host: not a browser
  const name = hostName(header);
  return isIP(name) !== 0 || name === "localhost" || name.endsWith(".localhost") || allowed.has(name);
}

/** The Origin names the host the request was sent to (scheme aside: both are ours on one port). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host.toLowerCase() === (host ?? "").toLowerCase();
  } catch {
    return false;
  }
}

/** Why this request is refused (a foreign Host, a cross-origin write, a write that is not JSON), or undefined. */
export function refuseRequest(req: IncomingMessage, allowedHosts: ReadonlySet<string>): Refusal | undefined {
  const host = req.headers.host;
  if (!hostAllowed(host, allowedHosts)) {
    return { status: 403, reason: "Forbidden", message: `Host ${host} is not served here: use an IP address or localhost, or start the control plane with --allowed-host ${hostName(host ?? "")} (a foreign name is how DNS rebinding reaches a loopback API)` };
  }
  if (!WRITES.has(req.method ?? "")) return undefined;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (!sameOrigin(origin, host)) return { status: 403, reason: "Forbidden", message: `a ${req.method} from origin ${origin} is refused: writes are accepted from this API's own origin only (no cross-site writes)` };
  }
  if (req.headers["sec-fetch-site"] === "cross-site") return { status: 403, reason: "Forbidden", message: `a cross-site ${req.method} is refused` };
  const hasBody = req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined;
  const type = (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  if ((hasBody || req.method === "POST" || req.method === "PUT") && type !== "application/json") {
    return { status: 415, reason: "UnsupportedMediaType", message: `a ${req.method} body must be sent as content-type: application/json${type ? ` (got ${type})` : ""}` };
  }
  return undefined;
}
