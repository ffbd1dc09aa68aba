// What each connected gateway proxy cannot serve, as translation found it: logged when it changes (not on every
// push) and listed on the REST API at /debug/gateways, so a missing secret or a port conflict is never silent.
import { send, type ApiRoute } from "./api/rest-api.js";
import type { GatewayProblem } from "./translate/gateway-servers.js";

export class GatewayReports {
  private readonly byProxy = new Map<string, { problems: GatewayProblem[]; listeners: string[] }>();

  constructor(private readonly log: (line: string) => void) {}

  /** The latest translation for a gateway proxy (problems undefined: not a gateway). */
  record(proxyId: string, problems: GatewayProblem[] | undefined, listeners: Array<Record<string, unknown>>): void {
    if (!problems) return;
    const before = JSON.stringify(this.byProxy.get(proxyId)?.problems ?? []);
    this.byProxy.set(proxyId, { problems, listeners: listeners.map((l) => String(l.name)) });
    if (JSON.stringify(problems) === before) return;
    for (const p of problems) this.log(`trellis control: gateway ${proxyId}: Gateway ${p.gateway}${p.server ? ` ${p.server}` : ""}${p.port ? ` (port ${p.port})` : ""}: ${p.message}`);
    if (!problems.length && before !== "[]") this.log(`trellis control: gateway ${proxyId}: every server is served`);
  }

  forget(proxyId: string): void {
    this.byProxy.delete(proxyId);
  }

  api(): ApiRoute {
    return (_req, res, url) => {
      if (url.pathname !== "/debug/gateways") return false;
      send(res, 200, [...this.byProxy].map(([proxy, r]) => ({ proxy, ...r })));
      return true;
    };
  }
}
