// Explicit-mode outbound (LDS and RDS): one listener on a local port per upstream the workload declared, with its
// route configuration; an upstream not registered or hidden by a Sidecar gets a 503 naming why, not a refusal.
import { outboundL4Listener } from "../l4-routes.js";
import { fqdn, isHttp } from "../services.js";
import { egressAllows } from "../sidecar-scope.js";
import { routesFor } from "../virtual-services.js";
import { CORS, FAULT, httpListener, type Json, ROUTER, socket } from "./envoy-shapes.js";
import type { OutboundScope } from "./outbound-scope.js";
import type { ProxyContext } from "./proxy-context.js";

export function buildExplicitOutbound(ctx: ProxyContext, scope: OutboundScope, out: { listeners: Json[]; routes: Json[] }): void {
  const { proxy, index } = ctx;
  const { sidecar, hidden } = scope;
  for (const u of proxy.upstreams) {
    const hostname = fqdn(u.host, proxy.namespace);
    const known = index.services.get(hostname);
    // A Sidecar egress listener with a port scopes its hosts to that port.
    const portHidden = !!known && !hidden.has(hostname) && !egressAllows(sidecar, proxy.namespace, known, u.port);
    const service = hidden.has(hostname) || portHidden ? undefined : known;
    const port = service?.ports.find((p) => p.port === u.port) ?? { port: u.port, protocol: "HTTP" };
    const name = `outbound_127.0.0.1_${u.localPort}`;
    if (!service) {
      // Not registered (yet): answer 503 rather than refuse the connection, so apps see a mesh error.
      const routeName = `${name}|unavailable`;
      const why = hidden.has(hostname) ? `${hostname} is not visible to this workload: the Sidecar ${sidecar!.metadata.namespace}/${sidecar!.metadata.name} does not list it in egress.hosts`
        : portHidden ? `${hostname} is not visible to this workload on port ${u.port}: the Sidecar ${sidecar!.metadata.namespace}/${sidecar!.metadata.name} lists it only in egress listeners of other ports`
          : `${hostname} has no registered endpoints`;
      out.routes.push({ name: routeName, virtual_hosts: [{ name: hostname, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 503, body: { inline_string: `no healthy upstream: ${why}` } } }] }] });
      out.listeners.push(httpListener(name, "127.0.0.1", u.localPort, routeName, `outbound_${u.localPort}`, [ROUTER], ctx.observe));
      continue;
    }
    const vss = index.vsCandidates(hostname);
    if (!isHttp(port)) {
      // TCP and TLS ports: the VirtualServices' tcp or tls routes as filter chains, else the service's own cluster.
      out.listeners.push({ name, traffic_direction: "OUTBOUND", address: socket("127.0.0.1", u.localPort), ...outboundL4Listener(vss, { service, port, proxy, services: index.services }) });
      continue;
    }
    const routeName = `${u.port}|${hostname}|${u.localPort}`;
    let routes = routesFor(vss, { service, port: u.port, proxy, services: index.services, hashPolicies: ctx.hashFor });
    // The app dialled a local port, so its Host names that port; a service outside the mesh is asked by its own name
    // (virtual hosting, and the SNI of TLS originated to it), unless a VirtualService rewrites the authority itself.
    if (service.entry?.external) routes = routes.map((r) => withHostRewrite(r, u.port === 80 || u.port === 443 ? hostname : `${hostname}:${u.port}`));
    out.routes.push({ name: routeName, virtual_hosts: [{ name: `${hostname}:${u.port}`, domains: ["*"], routes }] });
    out.listeners.push(httpListener(name, "127.0.0.1", u.localPort, routeName, `outbound_${u.localPort}`, [CORS, FAULT, ROUTER], ctx.observe));
  }
}

function withHostRewrite(route: Json, hostname: string): Json {
  const action = route.route as Json | undefined;
  if (!action || action.host_rewrite_literal !== undefined || action.auto_host_rewrite !== undefined) return route;
  return { ...route, route: { ...action, host_rewrite_literal: hostname } };
}
