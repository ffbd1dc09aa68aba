// The admin endpoint (Envoy's /config_dump, /clusters, /listeners, /stats, /ready, /quitquitquit, ...) and the
// readiness endpoint (/healthz/ready on 15021, and the app's rewritten probes /app-health/...). Both bind to loopback unless told otherwise.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Proxy } from "../proxy.js";
import { appHealth, type AppProber } from "./app-probers.js";

export interface AdminOptions {
  proxy: Proxy;
  bootstrap: () => unknown;
  ready: () => boolean;
  version: string;
  /** Called by /quitquitquit. */
  onQuit: () => void;
  nodeId: string;
  /** The app's rewritten probes (Kubernetes): served on the readiness port as /app-health/... */
  appProbers?: { probers: Map<string, AppProber>; appHost: string };
}

function send(res: ServerResponse, status: number, body: string, type = "text/plain; charset=UTF-8"): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-cache, max-age=0", "x-content-type-options": "nosniff" });
  res.end(body);
}

const MUTATING = new Set(["/quitquitquit", "/drain_listeners", "/logging", "/healthcheck/fail", "/healthcheck/ok", "/reset_counters", "/runtime_modify"]);
let logLevel = "info";

export function adminHandler(o: AdminOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = new URL(req.url ?? "/", "http://admin");
    const path = url.pathname;
    if (MUTATING.has(path) && req.method !== "POST") return send(res, 405, `${path} changes the proxy; use POST\n`);
    const p = o.proxy;
    switch (path) {
      case "/ready":
        return send(res, o.ready() && !p.isDraining() ? 200 : 503, o.ready() ? (p.isDraining() ? "DRAINING\n" : "LIVE\n") : "PRE_INITIALIZING\n");
      case "/server_info":
        return send(res, 200, JSON.stringify({ version: o.version, state: p.isDraining() ? "DRAINING" : o.ready() ? "LIVE" : "PRE_INITIALIZING", uptime_current_epoch: `${Math.floor((Date.now() - p.startedAt.getTime()) / 1000)}s`, node: { id: o.nodeId }, command_line_options: { base_id: 0 } }, null, 2), "application/json");
      case "/config_dump": {
        const dump = p.configDump(o.bootstrap());
        // Envoy's ?resource=FIELD: only that repeated field of whichever config type has it, as {configs: [...]}.
        const resource = url.searchParams.get("resource");
        if (!resource) return send(res, 200, JSON.stringify(dump, null, 2), "application/json");
        const holder = dump.configs.find((c) => Array.isArray((c as Record<string, unknown>)[resource]));
        if (!holder) return send(res, 404, `no config dump field ${resource}; try dynamic_listeners, dynamic_active_clusters, dynamic_route_configs, dynamic_active_secrets\n`);
        return send(res, 200, JSON.stringify({ configs: (holder as Record<string, unknown>)[resource] }, null, 2), "application/json");
      }
      case "/listeners":
        if (url.searchParams.get("format") === "json") return send(res, 200, JSON.stringify({ listener_statuses: p.listenerAddresses().map((l) => ({ name: l.name, local_address: { socket_address: { address: l.address, port_value: l.port } } })) }), "application/json");
        return send(res, 200, p.listenerAddresses().map((l) => `${l.name}::${l.address}:${l.port}`).join("\n") + "\n");
      case "/clusters": {
        const now = Date.now();
        const lines: string[] = [];
        for (const c of p.clusterList()) {
          lines.push(`${c.name}::default_priority::max_connections::${c.breakers.maxConnections}`, `${c.name}::default_priority::max_pending_requests::${c.breakers.maxPendingRequests}`, `${c.name}::default_priority::max_requests::${c.breakers.maxRequests}`, `${c.name}::default_priority::max_retries::${c.breakers.maxRetries}`);
          for (const e of c.hosts()) {
            const flags = [!e.edsHealthy ? "/failed_eds_health" : "", !e.hcHealthy ? "/failed_active_hc" : "", e.ejectedUntil > now ? "/failed_outlier_check" : ""].join("");
            lines.push(`${c.name}::${e.key}::health_flags::${flags || "healthy"}`, `${c.name}::${e.key}::weight::${e.weight}`, `${c.name}::${e.key}::rq_active::${e.activeRequests}`, `${c.name}::${e.key}::priority::${e.priority}`);
            // Envoy's region/zone/sub_zone lines (the locality's LocalityLbEndpoints), as tools grep them.
            const [region = "", zone = "", subZone = ""] = e.locality.split("/");
            lines.push(`${c.name}::${e.key}::region::${region}`, `${c.name}::${e.key}::zone::${zone}`, `${c.name}::${e.key}::sub_zone::${subZone}`);
          }
        }
        return send(res, 200, lines.join("\n") + "\n");
      }
      case "/certs":
        return send(res, 200, JSON.stringify({ certificates: p.certificates() }, null, 2), "application/json");
      case "/stats":
        if (url.searchParams.get("format") === "json") return send(res, 200, JSON.stringify(p.stats.json()), "application/json");
        return send(res, 200, p.stats.text(url.searchParams.get("filter") ? new RegExp(url.searchParams.get("filter")!) : undefined));
      case "/stats/prometheus":
        return send(res, 200, p.istioMetrics.prometheus() + p.stats.prometheus(), "text/plain; version=0.0.4");
      case "/logging": {
        const level = url.searchParams.get("level");
        if (level && !["trace", "debug", "info", "warning", "error", "critical", "off"].includes(level)) return send(res, 400, `unknown level "${level}"; use trace, debug, info, warning, error, critical or off\n`);
        if (level) logLevel = level;
        return send(res, 200, `active loggers:\n  trellis: ${logLevel}\n`);
      }
      case "/runtime":
        return send(res, 200, JSON.stringify(p.runtime.dump(), null, 2), "application/json");
      case "/runtime_modify": {
        // Envoy's form: each query parameter is a key and its value (an empty value removes the key).
        const refused = p.runtime.modify(Object.fromEntries(url.searchParams));
        return refused ? send(res, 503, `${refused}\n`) : send(res, 200, "OK\n");
      }
      case "/drain_listeners":
        void p.drain();
        return send(res, 200, "OK\n");
      case "/quitquitquit":
        send(res, 200, "OK\n");
        o.onQuit();
        return;
      case "/":
        return send(res, 200, ["/config_dump", "/certs", "/clusters", "/listeners", "/runtime", "/runtime_modify", "/stats", "/stats/prometheus", "/ready", "/server_info", "/logging", "/drain_listeners", "/quitquitquit"].join("\n") + "\n");
      default:
        return send(res, 404, `no admin handler for ${path}\n`);
    }
  };
}

export function listenHttp(handler: (req: IncomingMessage, res: ServerResponse) => void, host: string, port: number): Promise<Server> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`cannot bind ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}

export function readinessHandler(o: AdminOptions): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if ((req.url ?? "").split("?")[0] !== "/healthz/ready") {
      if (o.appProbers && appHealth(o.appProbers.probers, o.appProbers.appHost, req, res)) return;
      return send(res, 404, "not found\n");
    }
    const ready = o.ready() && !o.proxy.isDraining();
    send(res, ready ? 200 : 503, ready ? "" : "not ready\n");
  };
}
