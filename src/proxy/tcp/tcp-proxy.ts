// envoy.filters.network.tcp_proxy: connects each downstream connection to a host of the cluster and splices bytes
// both ways, honouring half-close and the idle timeout.
import { connect, type Socket } from "node:net";
import type { TcpProxy__Output } from "../../xds/generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.js";
import type { Stats } from "../stats/stats.js";
import type { UpstreamCluster } from "../upstream/cluster.js";
import { durationMs } from "../util/duration.js";
import type { ConnectionInfo } from "../http/stream-context.js";

export class TcpProxyFilter {
  private readonly clusters: Array<{ name: string; weight: number }>;
  private readonly total: number;
  private readonly idleMs: number;
  readonly statPrefix: string;

  constructor(config: TcpProxy__Output, private readonly lookup: (name: string) => UpstreamCluster | undefined, private readonly stats: Stats, where: string) {
    this.statPrefix = config.stat_prefix;
    if (config.cluster_specifier === "cluster") this.clusters = [{ name: config.cluster!, weight: 1 }];
    else if (config.cluster_specifier === "weighted_clusters") this.clusters = config.weighted_clusters!.clusters.map((c) => ({ name: c.name, weight: c.weight }));
    else throw new Error(`${where}: cluster or weighted_clusters is required`);
    this.total = this.clusters.reduce((s, c) => s + c.weight, 0);
    // Envoy's default TCP idle timeout is one hour; 0 disables it.
    this.idleMs = durationMs(config.idle_timeout, 3_600_000);
  }

  clusterNames(): string[] {
    return this.clusters.map((c) => c.name);
  }

  handleConnection(downstream: Socket, conn: ConnectionInfo, firstBytes?: Buffer): void {
    const p = `tcp.${this.statPrefix}`;
    this.stats.inc(`${p}.downstream_cx_total`);
    let r = Math.random() * this.total;
    const pick = this.clusters.find((c) => (r -= c.weight) < 0) ?? this.clusters[0];
    const cluster = this.lookup(pick.name);
    const host = cluster?.type === "ORIGINAL_DST" && conn.originalDst ? cluster.originalDestinationHost(conn.originalDst.address, conn.originalDst.port) : cluster?.pick(undefined);
    if (!cluster || !host) {
      this.stats.inc(`${p}.downstream_cx_no_route`);
      downstream.destroy();
      return;
    }
    const cs = `cluster.${cluster.name}`;
    if (cluster.activeRequests >= cluster.breakers.maxConnections) {
      this.stats.inc(`${cs}.upstream_cx_overflow`);
      downstream.destroy();
      return;
    }
    cluster.activeRequests++;
    this.stats.inc(`${cs}.upstream_cx_total`);
    this.stats.gauge(`${cs}.upstream_cx_active`, 1);
    downstream.pause();
    const upstream = connect({ host: host.address, port: host.port, allowHalfOpen: true });
    upstream.setNoDelay(true);
    downstream.setNoDelay(true);
    const connectTimer = setTimeout(() => upstream.destroy(new Error("connect timeout")), cluster.connectTimeoutMs);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearTimeout(connectTimer);
      cluster.activeRequests--;
      this.stats.gauge(`${cs}.upstream_cx_active`, -1);
      this.stats.inc(`${cs}.upstream_cx_rx_bytes_total`, upstream.bytesRead);
      this.stats.inc(`${cs}.upstream_cx_tx_bytes_total`, upstream.bytesWritten);
      upstream.destroy();
      downstream.destroy();
    };
    upstream.once("connect", () => {
      clearTimeout(connectTimer);
      if (firstBytes?.length) upstream.write(firstBytes);
      // pipe() carries backpressure both ways; end() on one side half-closes the other.
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      downstream.resume();
    });
    upstream.once("error", () => {
      if (upstream.connecting || upstream.bytesRead === 0) {
        this.stats.inc(`${cs}.upstream_cx_connect_fail`);
        cluster.recordResult(host, "connect-failure");
      }
      close();
    });
    downstream.once("error", close);
    // Each side's end travels through pipe() as a half-close; the connection is done when both sockets close.
    upstream.once("close", close);
    downstream.once("close", close);
    if (this.idleMs > 0) {
      upstream.setTimeout(this.idleMs, () => { this.stats.inc(`${p}.idle_timeout`); close(); });
      downstream.setTimeout(this.idleMs, () => { this.stats.inc(`${p}.idle_timeout`); close(); });
    }
  }
}
