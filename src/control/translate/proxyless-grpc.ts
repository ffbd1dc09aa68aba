// Config for proxyless gRPC clients (@grpc/grpc-js-xds, grpc-go's xds resolver): an API listener per service
// "host:port" (what `xds:///host:port` asks for), its routes from VirtualServices, EDS clusters with localities.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { clusterPolicy, type DestinationRuleSpec, destinationRuleFor, mergePolicy } from "./destination-rules.js";
import { clusterName, type Service } from "./services.js";
import { routesFor, type VirtualServiceSpec } from "./virtual-services.js";
import type { ProxyResources } from "./translate.js";

type Json = Record<string, unknown>;

const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const FAULT = { name: "envoy.filters.http.fault", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault" } };
const ROUTER = { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } };

export function proxylessGrpc(services: Map<string, Service>, vss: Array<IstioResource<VirtualServiceSpec>>, drs: Array<IstioResource<DestinationRuleSpec>>, proxy: Workload, hashFor: (host: string, subset: string | undefined, port: number) => Json[]): ProxyResources {
  const out: ProxyResources = { clusters: [], endpoints: [], listeners: [], routes: [] };
  for (const service of [...services.values()].sort((a, b) => a.hostname.localeCompare(b.hostname))) {
    const dr = destinationRuleFor(drs, service.hostname, proxy.namespace);
    const short = service.hostname.split(".")[0];
    for (const port of service.ports) {
      const name = `${service.hostname}:${port.port}`;
      out.listeners.push({ name, api_listener: { api_listener: { "@type": HCM, stat_prefix: name, rds: { route_config_name: name, config_source: { ads: {} } }, http_filters: [FAULT, ROUTER] } } });
      const routes = routesFor(vss, { service, port: port.port, proxy, services, hashPolicies: hashFor }).map((r) => {
        // gRPC clients do their own retries and ignore Envoy's; keep routes minimal so any gRPC xDS client takes them.
        const action = r.route as Json | undefined;
        if (action) delete action.retry_policy;
        return r;
      });
      out.routes.push({ name, virtual_hosts: [{ name, domains: [name, service.hostname, `${short}:${port.port}`, short], routes }] });
      const variants = [{ subset: "", labels: undefined as Record<string, string> | undefined, policy: clusterPolicy(mergePolicy(dr?.spec.trafficPolicy, undefined, port.port)) },
        ...(dr?.spec.subsets ?? []).map((s) => ({ subset: s.name, labels: s.labels, policy: clusterPolicy(mergePolicy(dr?.spec.trafficPolicy, s.trafficPolicy, port.port)) }))];
      for (const v of variants) {
        const cname = clusterName("outbound", port.port, v.subset, service.hostname);
        const lbPolicy = v.policy.lb_policy === "RING_HASH" ? "RING_HASH" : "ROUND_ROBIN";
        out.clusters.push({ name: cname, type: "EDS", eds_cluster_config: { eds_config: { ads: {} }, service_name: cname }, lb_policy: lbPolicy, connect_timeout: v.policy.connect_timeout });
        const eps = service.endpoints.filter((w) => !v.labels || Object.entries(v.labels).every(([k, x]) => w.labels[k] === x));
        out.endpoints.push({
          cluster_name: cname,
          endpoints: eps.length ? [{
            locality: { region: "trellis", zone: "local" },
            load_balancing_weight: 1,
            lb_endpoints: eps.map((w) => ({ endpoint: { address: { socket_address: { address: w.address, port_value: w.inboundPort || port.port } } }, health_status: w.ready ? "HEALTHY" : "UNHEALTHY", load_balancing_weight: 1 })),
          }] : [],
        });
      }
    }
  }
  return out;
}
