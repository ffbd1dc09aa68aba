// Drawn over the Cytoscape canvas in HTML and SVG, so nothing depends on an emoji font: a padlock on each mTLS edge
// and Kiali's badges on nodes (VirtualService, circuit breaker, fault injection, missing sidecar, gateway).
import type { Core } from "cytoscape";
import type { GraphNode, ProxyStatus, Resource } from "../api";

export const LOCK_SVG = `<svg viewBox="0 0 16 16" width="13" height="13" aria-hidden="true"><rect x="2.5" y="7" width="11" height="8" rx="1.5" fill="#0066cc"/><path d="M5 7V5a3 3 0 0 1 6 0v2" stroke="#0066cc" stroke-width="2" fill="none"/></svg>`;

export interface Badge { code: string; title: string }

const BADGE_STYLE: Record<string, string> = { VS: "#6753ac", CB: "#ec7a08", FI: "#c9190b", MS: "#8a8d90", GW: "#009596" };

type Obj = Record<string, unknown>;
const names = (host: unknown, service: string | undefined, ns: string) => typeof host === "string" && !!service && (host === service || host.startsWith(`${service}.${ns}`));

/** The badges of one node, from the Istio config that names its service and the proxies that are connected. */
export function badgesOf(n: GraphNode, resources: Resource[], proxies: ProxyStatus[]): Badge[] {
  const out: Badge[] = [];
  const service = n.service ?? n.app;
  const here = resources.filter((r) => (r.metadata.namespace ?? "default") === n.namespace);
  const vs = n.nodeType === "service" ? here.filter((r) => r.kind === "VirtualService" && (r.spec?.hosts as unknown[] | undefined)?.some((h) => names(h, service, n.namespace))) : [];
  if (vs.length) out.push({ code: "VS", title: `VirtualService ${vs.map((r) => r.metadata.name).join(", ")}` });
  if (vs.some((r) => ((r.spec?.http as Obj[] | undefined) ?? []).some((h) => h.fault))) out.push({ code: "FI", title: "Fault injection" });
  const dr = n.nodeType === "service" ? here.filter((r) => r.kind === "DestinationRule" && names(r.spec?.host, service, n.namespace)) : [];
  const breaker = (p: unknown) => !!p && ((p as Obj).connectionPool !== undefined || (p as Obj).outlierDetection !== undefined);
  if (dr.some((r) => breaker(r.spec?.trafficPolicy) || ((r.spec?.subsets as Obj[] | undefined) ?? []).some((s) => breaker(s.trafficPolicy)))) out.push({ code: "CB", title: "Circuit breaker" });
  const mine = proxies.filter((p) => p.workload && p.workload.namespace === n.namespace && (n.workload ? p.workload.name === n.workload : n.app ? p.workload.labels.app === n.app && (!n.version || p.workload.labels.version === n.version) : false));
  if (mine.some((p) => p.workload!.labels.istio === "ingressgateway" || p.workload!.labels.istio === "egressgateway")) out.push({ code: "GW", title: "Gateway" });
  if (n.nodeType !== "service" && !n.isUnknown && mine.length === 0) out.push({ code: "MS", title: "Missing sidecar: no connected proxy runs this workload" });
  return out;
}

/** Redraws locks and badges at the elements' rendered positions (after every pan, zoom or layout). */
export function drawOverlay(cy: Core, overlay: HTMLElement, o: { security: boolean; badges: boolean }): void {
  const parts: string[] = [];
  if (o.security) {
    cy.edges("[?mtls]").forEach((e) => {
      // A third of the way along, so the padlock never sits on the edge's label (which is at the middle).
      const a = e.renderedSourceEndpoint();
      const b = e.renderedTargetEndpoint();
      const x = a.x + (b.x - a.x) / 3;
      const y = a.y + (b.y - a.y) / 3;
      parts.push(`<span class="lock" title="mTLS" data-lock="${e.id()}" style="left:${x - 6}px;top:${y - 7}px">${LOCK_SVG}</span>`);
    });
  }
  if (o.badges) {
    cy.nodes("[badges]").forEach((n) => {
      const badges = n.data("badges") as Badge[];
      if (!badges.length || n.isParent()) return;
      const p = n.renderedPosition();
      const html = badges.map((b) => `<span class="gbadge" title="${b.title.replace(/"/g, "&quot;")}" style="background:${BADGE_STYLE[b.code]}">${b.code}</span>`).join("");
      parts.push(`<span class="gbadges" data-badges="${n.id()}" style="left:${p.x + 12}px;top:${p.y - 26}px">${html}</span>`);
    });
  }
  overlay.innerHTML = parts.join("");
}
