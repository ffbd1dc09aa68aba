// Istio's protocol selection for a Kubernetes Service port: appProtocol wins, else the port name's prefix before "-"
// ("http-web" is HTTP, "grpc-web..." is gRPC-Web); shared by the Kubernetes registry and the analyzer's port-name check.
export interface ServicePortFields {
  port?: number;
  name?: string;
  appProtocol?: string;
}

const NAME_PROTOCOLS: Record<string, string> = { http: "HTTP", http2: "HTTP2", https: "HTTPS", grpc: "GRPC", "grpc-web": "GRPC-WEB", tcp: "TCP", tls: "TLS", mongo: "MONGO", redis: "REDIS", mysql: "MYSQL" };
const APP_PROTOCOLS: Record<string, string> = { ...NAME_PROTOCOLS, "kubernetes.io/h2c": "HTTP2", "kubernetes.io/ws": "HTTP", "kubernetes.io/wss": "HTTPS" };

/** The protocol, or undefined when neither appProtocol nor the name says (Istio sniffs such ports). */
export function portProtocol(p: ServicePortFields): string | undefined {
  const app = p.appProtocol?.toLowerCase();
  if (app && APP_PROTOCOLS[app]) return APP_PROTOCOLS[app];
  const name = (p.name ?? "").toLowerCase();
  if (name === "grpc-web" || name.startsWith("grpc-web-")) return "GRPC-WEB";
  return NAME_PROTOCOLS[name.split("-")[0]];
}
