// The gRPC methods xDS travels on: the aggregated service (ADS) and the per-type services Envoy's api_config_source
// streams use (CDS, EDS, LDS, RDS, SDS), each in state-of-the-world and incremental (Delta) form. Every one carries
// the same DiscoveryRequest/Response (or their Delta forms), so one handler serves them all.
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { PROTO_INCLUDE_DIRS } from "./proto-files.js";
import type { ResourceKind } from "./resource.js";

export type XdsProtocol = "sotw" | "delta";

interface ServiceInfo {
  file: string;
  service: string;
  sotw: string;
  delta: string;
}

export const ADS: ServiceInfo = { file: "envoy/service/discovery/v3/ads.proto", service: "envoy.service.discovery.v3.AggregatedDiscoveryService", sotw: "StreamAggregatedResources", delta: "DeltaAggregatedResources" };

export const PER_TYPE: Record<ResourceKind, ServiceInfo> = {
  cluster: { file: "envoy/service/cluster/v3/cds.proto", service: "envoy.service.cluster.v3.ClusterDiscoveryService", sotw: "StreamClusters", delta: "DeltaClusters" },
  endpoint: { file: "envoy/service/endpoint/v3/eds.proto", service: "envoy.service.endpoint.v3.EndpointDiscoveryService", sotw: "StreamEndpoints", delta: "DeltaEndpoints" },
  listener: { file: "envoy/service/listener/v3/lds.proto", service: "envoy.service.listener.v3.ListenerDiscoveryService", sotw: "StreamListeners", delta: "DeltaListeners" },
  route: { file: "envoy/service/route/v3/rds.proto", service: "envoy.service.route.v3.RouteDiscoveryService", sotw: "StreamRoutes", delta: "DeltaRoutes" },
  secret: { file: "envoy/service/secret/v3/sds.proto", service: "envoy.service.secret.v3.SecretDiscoveryService", sotw: "StreamSecrets", delta: "DeltaSecrets" },
};

const definitions = new Map<string, grpc.ServiceDefinition>();

/** The service's definition (for a server's addService, and the serializers a client's streams use). */
export function serviceDefinition(info: ServiceInfo): grpc.ServiceDefinition {
  let def = definitions.get(info.service);
  if (!def) {
    const pkg = loadSync(info.file, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: PROTO_INCLUDE_DIRS });
    def = pkg[info.service] as grpc.ServiceDefinition;
    if (!def) throw new Error(`${info.file} defines no ${info.service}`);
    definitions.set(info.service, def);
  }
  return def;
}

/** Opens a bidirectional xDS stream on `client` (any grpc.Client) for `info`'s method of `protocol`. */
export function openXdsStream<Req, Res>(client: grpc.Client, info: ServiceInfo, protocol: XdsProtocol, metadata?: grpc.Metadata): grpc.ClientDuplexStream<Req, Res> {
  const method = serviceDefinition(info)[protocol === "delta" ? info.delta : info.sotw] as grpc.MethodDefinition<Req, Res>;
  return client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, metadata ?? new grpc.Metadata());
}
