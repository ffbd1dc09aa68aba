// Serves the console (the built web app) on 20001 and forwards its API calls to the control plane's REST handler
// in-process, so the browser talks to one origin and the console sees exactly what the REST API answers.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { precompressed } from "./precompressed.js";
import { hostAllowed } from "../control/api/request-guard.js";

/** Where the package's build puts the web app (dist/console), next to dist/src. */
export const CONSOLE_ASSETS = fileURLToPath(new URL("../../console/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json", ".woff2": "font/woff2",
};

const API_PREFIXES = ["/api/", "/apis/", "/debug/", "/version", "/readyz"];

/** API calls go to the REST handler (which checks Host, Origin and content type itself); pages answer our Host names only. */
export function consoleHandler(api: (req: IncomingMessage, res: ServerResponse) => void, assets = CONSOLE_ASSETS, allowedHosts: Iterable<string> = []): (req: IncomingMessage, res: ServerResponse) => void {
  const hosts = new Set([...allowedHosts].map((h) => h.toLowerCase()));
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (API_PREFIXES.some((p) => path.startsWith(p))) return api(req, res);
    if (!hostAllowed(req.headers.host, hosts)) {
      res.writeHead(403, { "content-type": "text/plain" }).end(`Host ${req.headers.host} is not served here; start the control plane with --allowed-host to add a name\n`);
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    let file: string;
    try {
      file = normalize(join(assets, decodeURIComponent(path)));
    } catch {
      res.writeHead(400).end("bad path");
      return;
    }
    if (!file.startsWith(assets.endsWith(sep) ? assets : assets + sep) && file !== assets) {
      res.writeHead(403).end();
      return;
    }
    // The app routes with the URL's hash, so every other path is the app itself.
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(assets, "index.html");
    if (!existsSync(file)) {
      res.writeHead(503, { "content-type": "text/plain" }).end("the console is not built: run npm run build\n");
      return;
    }
    const hashed = file.includes(`${sep}assets${sep}`);
    const sent = precompressed(file, req.headers["accept-encoding"]);
    res.writeHead(200, {
      "content-type": TYPES[extname(file)] ?? "application/octet-stream",
      ...(sent.encoding ? { "content-encoding": sent.encoding } : {}),
      vary: "accept-encoding",
      "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
      "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    });
    if (req.method === "HEAD") res.end();
    else createReadStream(sent.file).pipe(res);
  };
}

export function startConsole(api: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number, allowedHosts: Iterable<string> = []): Promise<Server> {
  const server = createServer(consoleHandler(api, CONSOLE_ASSETS, allowedHosts));
  return new Promise((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`console: cannot bind ${host}:${port}: ${e.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}
