// envoy.filters.network.tcp_proxy: connects each downstream connection to a host of the cluster (over the cluster's
// TLS when it has one) and splices bytes both ways, honouring half-close and the idle timeout. Between sidecars it
// exchanges workload metadata first, so both sides report Istio's TCP metrics with full labels.
import { connect, type Socket } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { TcpProxy__Output } from "../../xds/generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.js";
import type { Stats } from "../stats/stats.js";
import type { UpstreamCluster } from "../upstream/cluster.js";
import { type Endpoint, workloadOf } from "../upstream/endpoint.js";
import { durationMs } from "../util/duration.js";
import type { ConnectionInfo } from "../http/stream-context.js";
import type { PeerInfo } from "../stats/istio-metrics.js";
import { type IstioReporting, openIstioTcpConnection } from "../stats/record-istio-metrics.js";
import { PEER_EXCHANGE_ALPN, peerExchangeFrame, readPeerExchange } from "./peer-exchange.js";
import { compileRecordLoggers, type RecordLogger } from "../access-log/file-logger.js";

export interface TcpProxyDeps {
  cluster(name: string): UpstreamCluster | undefined;
  stats: Stats;
  /** Set once the proxy knows its workload (node metadata); read per connection. */
  istio?: IstioReporting;
}

/** How long a server waits for the metadata frame of a client that negotiated the exchange. */
const PEER_FRAME_TIMEOUT_MS = 5_000;

export class TcpProxyFilter {
  private readonly clusters: Array<{ name: string; weight: number }>;
  private readonly total: number;
  private readonly idleMs: number;
  private readonly accessLogs: RecordLogger[];
  readonly statPrefix: string;

  constructor(config: TcpProxy__Output, private readonly deps: TcpProxyDeps, where: string, private readonly direction: "INBOUND" | "OUTBOUND" | "UNSPECIFIED") {
    this.statPrefix = config.stat_prefix;
    if (config.cluster_specifier === "cluster") this.clusters = [{ name: config.cluster!, weight: 1 }];
    else if (config.cluster_specifier === "weighted_clusters") this.clusters = config.weighted_clusters!.clusters.map((c) => ({ name: c.name, weight: c.weight }));
    else throw new Error(`${where}: cluster or weighted_clusters is required`);
    this.total = this.clusters.reduce((s, c) => s + c.weight, 0);
    // Envoy's default TCP idle timeout is one hour; 0 disables it.
    this.idleMs = durationMs(config.idle_timeout, 3_600_000);
    this.accessLogs = compileRecordLoggers(config.access_log, where);
  }

  /** One access-log line per connection, when it ends (Envoy's TCP access log: HTTP fields print "-"). */
  private logConnection(downstream: Socket, conn: ConnectionInfo, startTime: number, flags: string[], cluster: string | undefined, host: Endpoint | undefined): void {
    if (this.accessLogs.length === 0) return;
    const record = {
      startTime, responseCode: 0, flags, bytesReceived: downstream.bytesRead, bytesSent: downstream.bytesWritten, protocol: undefined,
      upstreamHost: host ? `${host.address}:${host.port}` : undefined, upstreamCluster: cluster, routeName: undefined,
      downstreamRemote: `${conn.remoteAddress}:${conn.remotePort}`, downstreamLocal: `${conn.localAddress}:${conn.localPort}`,
      peerPrincipal: conn.peerPrincipal, serverName: conn.requestedServerName,
      requestHeader: () => undefined, responseHeader: () => undefined, responseTrailer: () => undefined,
    };
    for (const log of this.accessLogs) log(record);
  }

  clusterNames(): string[] {
    return this.clusters.map((c) => c.name);
  }

  handleConnection(downstream: Socket, conn: ConnectionInfo, firstBytes?: Buffer): void {
    // A sidecar caller that negotiated the exchange sends its workload first; read it off before anything else.
    if (conn.alpn === PEER_EXCHANGE_ALPN && !firstBytes) {
      readPeerExchange(downstream, PEER_FRAME_TIMEOUT_MS, (peer, rest) => this.proxy(downstream, conn, rest, peer));
      return;
    }
    this.proxy(downstream, conn, firstBytes, undefined);
  }

  private proxy(downstream: Socket, conn: ConnectionInfo, firstBytes: Buffer | undefined, sourcePeer: PeerInfo | undefined): void {
    const { stats, istio } = this.deps;
    const p = `tcp.${this.statPrefix}`;
    const startTime = Date.now();
    stats.inc(`${p}.downstream_cx_total`);
    let r = Math.random() * this.total;
    const pick = this.clusters.find((c) => (r -= c.weight) < 0) ?? this.clusters[0];
    const cluster = this.deps.cluster(pick.name);
    const host = cluster?.type === "ORIGINAL_DST" && conn.originalDst ? cluster.originalDestinationHost(conn.originalDst.address, conn.originalDst.port) : cluster?.pick(undefined);
    const outbound = this.direction === "OUTBOUND";
    const report = (h: Endpoint | undefined, flags: string[], sent: () => number, received: () => number) =>
      istio && this.direction !== "UNSPECIFIED"
        ? openIstioTcpConnection(istio, { outbound, conn, sourcePeer, upstreamWorkload: h && workloadOf(h), upstreamCluster: cluster?.name ?? pick.name, upstreamService: cluster?.istioService, flags }, sent, received)
        : () => {};
    const refuse = (stat: string, flag: string) => {
      stats.inc(stat);
      report(host, [flag], () => 0, () => 0)();
      this.logConnection(downstream, conn, startTime, [flag], cluster?.name, host);
      downstream.destroy();
    };
    if (!cluster || !host) return refuse(`${p}.downstream_cx_no_route`, cluster ? "UH" : "NR");
    const cs = `cluster.${cluster.name}`;
    if (cluster.activeRequests >= cluster.breakers.maxConnections) return refuse(`${cs}.upstream_cx_overflow`, "UO");
    let tlsOptions;
    try {
      tlsOptions = cluster.poolsFor(host).tlsOptions([]);
    } catch {
      // Mesh certificates not issued yet: refuse rather than fall back to plaintext.
      return refuse(`${cs}.upstream_cx_connect_fail`, "UF");
    }
    cluster.activeRequests++;
    stats.inc(`${cs}.upstream_cx_total`);
    stats.gauge(`${cs}.upstream_cx_active`, 1);
    downstream.pause();
    const raw = connect({ host: host.address, port: host.port, allowHalfOpen: true });
    const upstream: Socket = tlsOptions ? tlsConnect({ socket: raw, ...tlsOptions }) : raw;
    upstream.setNoDelay(true);
    downstream.setNoDelay(true);
    const connectTimer = setTimeout(() => upstream.destroy(new Error("connect timeout")), cluster.connectTimeoutMs);
    // The app's side of the hop is plaintext on both directions: downstream when outbound, upstream when inbound.
    const app = outbound ? downstream : upstream;
    const sent = () => (outbound ? app.bytesWritten : app.bytesRead);
    const received = () => (outbound ? app.bytesRead : app.bytesWritten);
    let connected = false;
    let closeReport: () => void = () => {};
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(connectTimer);
      cluster.activeRequests--;
      stats.gauge(`${cs}.upstream_cx_active`, -1);
      stats.inc(`${cs}.upstream_cx_rx_bytes_total`, upstream.bytesRead);
      stats.inc(`${cs}.upstream_cx_tx_bytes_total`, upstream.bytesWritten);
      if (connected) closeReport();
      else report(host, ["UF"], () => 0, () => 0)();
      upstream.destroy();
      downstream.destroy();
      this.logConnection(downstream, conn, startTime, connected ? [] : ["UF"], cluster.name, host);
    };
    upstream.once(tlsOptions ? "secureConnect" : "connect", () => {
      clearTimeout(connectTimer);
      connected = true;
      closeReport = report(host, [], sent, received);
      if (istio && (upstream as TLSSocket).alpnProtocol === PEER_EXCHANGE_ALPN) upstream.write(peerExchangeFrame(istio.self));
      if (firstBytes?.length) upstream.write(firstBytes);
      // pipe() carries backpressure both ways; end() on one side half-closes the other.
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.resume();
    });
    upstream.once("error", () => {
      if (!connected) {
        stats.inc(`${cs}.upstream_cx_connect_fail`);
        cluster.recordResult(host, "connect-failure");
      }
      close();
    });
    downstream.once("error", close);
    // Each side's end travels through pipe() as a half-close; the connection is done when both sockets close.
    upstream.once("close", close);
    downstream.once("close", close);
    if (this.idleMs > 0) {
      upstream.setTimeout(this.idleMs, () => { stats.inc(`${p}.idle_timeout`); close(); });
      downstream.setTimeout(this.idleMs, () => { stats.inc(`${p}.idle_timeout`); close(); });
    }
  }
}
