// Unary gRPC calls the proxy makes itself (OTLP span export, ext_authz Check) to a cluster's hosts, as Envoy's
// envoy_grpc does: a host picked per call by the cluster's load balancer, one HTTP/2 channel per host (with the
// cluster's TLS when it has one), messages already encoded by the caller.
import * as grpc from "@grpc/grpc-js";
import type { UpstreamCluster } from "./cluster.js";
import type { Endpoint } from "./endpoint.js";

export interface UnaryCall {
  /** "/package.Service/Method" */
  path: string;
  body: Buffer;
  timeoutMs: number;
  metadata?: Array<[string, string]>;
  /** envoy_grpc.authority: the :authority sent (default: the cluster's name, as Envoy). */
  authority?: string;
}

const identity = (b: Buffer) => b;

export class GrpcUnaryCaller {
  private readonly clients = new Map<string, grpc.Client>();

  constructor(private readonly clusterName: string, private readonly clusters: (name: string) => UpstreamCluster | undefined) {}

  call(c: UnaryCall): Promise<Buffer> {
    const cluster = this.clusters(this.clusterName);
    if (!cluster) return Promise.reject(new Error(`cluster ${this.clusterName} is not configured`));
    const host = cluster.pick(undefined);
    if (!host) return Promise.reject(new Error(`cluster ${this.clusterName} has no healthy host`));
    let client: grpc.Client;
    try {
      client = this.client(cluster, host, c.authority ?? this.clusterName);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const md = new grpc.Metadata();
    for (const [k, v] of c.metadata ?? []) md.add(k, v);
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(c.path, identity, identity, c.body, md, { deadline: Date.now() + c.timeoutMs }, (err, res) => (err ? reject(err) : resolve(res!)));
    });
  }

  private client(cluster: UpstreamCluster, host: Endpoint, authority: string): grpc.Client {
    const tls = cluster.tls ? cluster.poolsFor(host).tlsOptions(["h2"]) : undefined;
    const key = `${host.address}|${host.port}|${authority}|${tls ? `${tls.cert}|${tls.ca}` : ""}`;
    let client = this.clients.get(key);
    if (client) return client;
    const target = `${host.address.includes(":") ? `[${host.address}]` : host.address}:${host.port}`;
    const options: grpc.ChannelOptions = { "grpc.default_authority": authority };
    let creds = grpc.credentials.createInsecure();
    if (tls) {
      creds = grpc.credentials.createSsl(tls.ca ? Buffer.from(String(tls.ca)) : null, tls.key ? Buffer.from(String(tls.key)) : null, tls.cert ? Buffer.from(String(tls.cert)) : null, {
        rejectUnauthorized: tls.rejectUnauthorized, checkServerIdentity: (h, cert) => tls.checkServerIdentity?.(h, cert),
      });
      if (tls.servername) options["grpc.ssl_target_name_override"] = tls.servername;
    }
    client = new grpc.Client(target, creds, options);
    this.clients.set(key, client);
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
