// Config propagation over the REST API (`trellis apply --wait`, `trellis proxy-status`, the console):
//   GET /api/v1/propagation[?limit=N]      the last N changes (default 20, at most 200), newest first
//   GET /api/v1/propagation/GENERATION     one change
//   GET /api/v1/propagation/lookup?kind=K&namespace=NS&name=N[&resourceVersion=V]   the change that wrote it
// Each change: its generation, the resource, and how many affected proxies hold it, NACKed it, disconnected or have
// not answered, with the time they took (p50/p99/max); see xds/propagation.ts.
import type { PropagationTracker } from "../../xds/propagation.js";
import { send, status, type ApiRoute } from "./rest-api.js";

const PREFIX = "/api/v1/propagation";

function positiveInt(text: string | null, fallback: number): number | undefined {
  if (text === null) return fallback;
  return /^[1-9][0-9]{0,8}$/.test(text) ? Number(text) : undefined;
}

export function propagationApi(tracker: PropagationTracker): ApiRoute {
  return (req, res, url) => {
    if (url.pathname !== PREFIX && !url.pathname.startsWith(`${PREFIX}/`)) return false;
    if (req.method !== "GET") {
      status(res, 405, "MethodNotAllowed", `GET ${url.pathname}`);
      return true;
    }
    const rest = url.pathname.slice(PREFIX.length + 1);
    if (url.pathname === PREFIX) {
      const limit = positiveInt(url.searchParams.get("limit"), 20);
      if (limit === undefined || limit > 200) status(res, 400, "BadRequest", `limit: give a whole number from 1 to 200, not "${url.searchParams.get("limit")}"`);
      else send(res, 200, { generation: tracker.generation, changes: tracker.list(limit) });
      return true;
    }
    if (rest === "lookup") {
      const q = url.searchParams;
      const missing = ["kind", "namespace", "name"].filter((k) => !q.get(k));
      if (missing.length) {
        status(res, 400, "BadRequest", `lookup needs ${missing.join(", ")} (and optionally resourceVersion) as query parameters`);
        return true;
      }
      const change = tracker.find(q.get("kind")!, q.get("namespace")!, q.get("name")!, q.get("resourceVersion") ?? undefined);
      if (change) send(res, 200, change);
      else status(res, 404, "NotFound", `no recorded change of ${q.get("kind")} ${q.get("namespace")}/${q.get("name")}${q.get("resourceVersion") ? ` at resourceVersion ${q.get("resourceVersion")}` : ""} (the last 200 writes are kept)`);
      return true;
    }
    const generation = positiveInt(rest, 0);
    if (generation === undefined) {
      status(res, 400, "BadRequest", `${url.pathname}: a generation is a whole number (GET ${PREFIX}/GENERATION)`);
      return true;
    }
    const change = tracker.get(generation);
    if (change) send(res, 200, change);
    else status(res, 404, "NotFound", `no change with generation ${generation}: the current generation is ${tracker.generation}, and the last 200 changes are kept`);
    return true;
  };
}
