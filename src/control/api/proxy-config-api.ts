// GET /api/v1/proxies/ID/config_dump: a connected proxy's Envoy config, fetched from the admin address it
// registered, so the console (which talks only to this API) can show listeners, clusters, routes and secrets.
// Secrets in a config dump carry certificates only; a proxy's admin never serves private keys.
import { request } from "node:http";
import { send, status, type ApiRoute } from "./rest-api.js";

const MAX_BYTES = 32 * 1024 * 1024;

export function fetchAdmin(address: string, path: string): Promise<{ status: number; body: string }> {
  const colon = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const req = request({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)), path, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) req.destroy(new Error("the config dump is too large"));
        else chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("timeout", () => req.destroy(new Error("the proxy's admin did not answer within 5 s")));
    req.on("error", reject);
    req.end();
  });
}

export function proxyConfigApi(adminOf: (nodeId: string) => string | undefined): ApiRoute {
  return async (req, res, url) => {
    const m = /^\/api\/v1\/proxies\/([^/]+)\/(config_dump|certs)$/.exec(url.pathname);
    if (!m) return false;
    const id = decodeURIComponent(m[1]);
    const admin = adminOf(id);
    if (!admin) {
      status(res, 404, "NotFound", `no connected proxy ${id} with an admin address; see /debug/proxies for the connected ones`);
      return true;
    }
    const resource = url.searchParams.get("resource");
    if (resource !== null && !/^[a-z_]+$/.test(resource)) {
      status(res, 400, "BadRequest", `resource: "${resource}" is not a config dump section (e.g. dynamic_listeners)`);
      return true;
    }
    try {
      const r = await fetchAdmin(admin, `/${m[2]}${resource ? `?resource=${resource}` : ""}`);
      if (r.status !== 200) status(res, 502, "BadGateway", `the proxy's admin answered ${r.status}: ${r.body.slice(0, 200)}`);
      else send(res, 200, JSON.parse(r.body));
    } catch (err) {
      status(res, 502, "BadGateway", `cannot reach ${id}'s admin at ${admin}: ${(err as Error).message}`);
    }
    return true;
  };
}
