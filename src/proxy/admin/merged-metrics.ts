// Istio's agent port (15020): /stats/prometheus serves the proxy's metrics followed by the app's own, scraped from the
// app when it says where (Istio reads the prometheus.io/port and prometheus.io/path annotations; `trellis run
// --app-metrics` says it here), so one scrape target per workload carries both. /healthz/ready answers too.
import { request, type IncomingMessage, type ServerResponse } from "node:http";
import type { Proxy } from "../proxy.js";

export interface AppMetricsTarget {
  port: number;
  path: string;
}

const APP_SCRAPE_TIMEOUT_MS = 5_000;
/** An app's exposition larger than this is cut off rather than held in memory. */
const MAX_APP_BYTES = 16 * 1024 * 1024;

function scrapeApp(target: AppMetricsTarget): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: target.port, path: target.path, timeout: APP_SCRAPE_TIMEOUT_MS, headers: { accept: "text/plain;version=0.0.4" } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`the app answered ${res.statusCode} on ${target.path}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_APP_BYTES) return req.destroy(new Error(`the app's metrics exceed ${MAX_APP_BYTES} bytes`));
        chunks.push(c);
      });
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`the app did not answer within ${APP_SCRAPE_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}

export function mergedMetricsHandler(proxy: Proxy, ready: () => boolean, app: AppMetricsTarget | undefined): (req: IncomingMessage, res: ServerResponse) => void {
  let scrapes = 0;
  let failures = 0;
  return (req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path === "/healthz/ready") {
      const ok = ready() && !proxy.isDraining();
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
      return void res.end(ok ? "" : "not ready\n");
    }
    if (path !== "/stats/prometheus") {
      res.writeHead(404, { "content-type": "text/plain" });
      return void res.end("not found; try /stats/prometheus or /healthz/ready\n");
    }
    const own = proxy.istioMetrics.prometheus() + proxy.stats.prometheus();
    const finish = (appText: string) => {
      const agent = app ? `# TYPE trellis_agent_app_scrapes_total counter\ntrellis_agent_app_scrapes_total ${scrapes}\n# TYPE trellis_agent_app_scrape_failures_total counter\ntrellis_agent_app_scrape_failures_total ${failures}\n` : "";
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
      res.end(own + agent + (appText && !appText.endsWith("\n") ? appText + "\n" : appText));
    };
    if (!app) return finish("");
    scrapes++;
    // A failing app costs it its own metrics, never the proxy's: the scrape still succeeds with those.
    scrapeApp(app).then(finish, () => { failures++; finish(""); });
  };
}
