// The control plane's own Prometheus metrics on the monitoring port (15014, Istio's), at GET /metrics: each part
// of the control plane that exports metrics gives a renderer of the text exposition format.
import type { ApiRoute } from "./rest-api.js";
import { status } from "./rest-api.js";

export function monitoringApi(renderers: Array<() => string>): ApiRoute {
  return (req, res, url) => {
    if (url.pathname !== "/metrics") return false;
    if (req.method !== "GET") {
      status(res, 405, "MethodNotAllowed", "GET /metrics");
      return true;
    }
    const text = renderers.map((r) => r()).join("");
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
    return true;
  };
}
