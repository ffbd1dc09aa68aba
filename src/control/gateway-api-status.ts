// Gateway API resources read through the REST API with their status: the store keeps what users wrote, and the
// status (Accepted, Programmed, ResolvedRefs, listeners' attached routes) is computed when read from the store, the
// connected gateway proxies and the secrets, so `trellis get` and any REST client see it as kubectl would.
import { KINDS } from "../api/kinds.js";
import type { IstioResource } from "../api/resource.js";
import { send, status as failure, type ApiRoute } from "./api/rest-api.js";
import { convertGatewayApi, type GatewayApiContext, statusKey } from "./translate/gateway-api.js";

const PATH = /^\/apis\/gateway\.networking\.k8s\.io\/([^/]+)\/(?:namespaces\/([^/]+)\/)?([^/]+)(?:\/([^/]+))?$/;

/** GETs of Gateway API kinds (not watches, not writes: those stay with the REST API's own handling). */
export function gatewayApiStatusRoute(resources: () => IstioResource[], context: () => GatewayApiContext): ApiRoute {
  return (req, res, url) => {
    const m = PATH.exec(url.pathname);
    if (!m || req.method !== "GET" || url.searchParams.get("watch") === "true") return false;
    const info = KINDS.find((k) => k.group === "gateway.networking.k8s.io" && k.plural === m[3] && k.versions.includes(m[1]));
    if (!info) return false;
    const all = resources();
    const status = convertGatewayApi(all, context()).status;
    const withStatus = (r: IstioResource) => ({ ...r, status: status.get(statusKey(r.kind, info.namespaced ? r.metadata.namespace : undefined, r.metadata.name)) ?? {} });
    const namespace = m[2] ? decodeURIComponent(m[2]) : undefined;
    const mine = all.filter((r) => r.kind === info.kind && r.apiVersion.startsWith("gateway.networking.k8s.io/") && (!namespace || !info.namespaced || r.metadata.namespace === namespace));
    if (m[4]) {
      const name = decodeURIComponent(m[4]);
      const found = mine.find((r) => r.metadata.name === name);
      if (found) send(res, 200, withStatus(found));
      else failure(res, 404, "NotFound", `${info.kind} ${namespace ?? ""}${namespace ? "/" : ""}${name} not found`);
      return true;
    }
    send(res, 200, { apiVersion: `${info.group}/${m[1]}`, kind: `${info.kind}List`, items: mine.map(withStatus) });
    return true;
  };
}
