// Istio's standard metrics (istio_requests_total, istio_request_duration_milliseconds, istio_request_bytes,
// istio_response_bytes, and for TCP istio_tcp_sent_bytes_total, istio_tcp_received_bytes_total,
// istio_tcp_connections_opened_total, istio_tcp_connections_closed_total) with Istio's label sets and buckets,
// recorded by both sides of a hop (reporter source and destination) and rendered in the Prometheus text format.

/** Istio's default buckets for istio_request_duration_milliseconds. */
export const DURATION_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Istio's default buckets for istio_request_bytes and istio_response_bytes. */
export const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

export const LABELS = [
  "reporter", "source_workload", "source_workload_namespace", "source_principal", "source_app", "source_version", "source_cluster",
  "destination_workload", "destination_workload_namespace", "destination_principal", "destination_app", "destination_version",
  "destination_service", "destination_service_name", "destination_service_namespace", "destination_cluster",
  "request_protocol", "response_code", "grpc_response_status", "response_flags", "connection_security_policy",
] as const;

export type LabelName = (typeof LABELS)[number];
export type LabelValues = Record<LabelName, string>;
/** Istio's TCP metrics carry the same labels but response_code and grpc_response_status. */
export const TCP_LABELS = LABELS.filter((l) => l !== "response_code" && l !== "grpc_response_status");
export type TcpLabelValues = Omit<LabelValues, "response_code" | "grpc_response_status">;

interface TcpSeries {
  labels: string;
  opened: number;
  closed: number;
  sent: number;
  received: number;
}

/** An open connection's byte counters, read when metrics are scraped (nothing is paid per chunk of data). */
interface OpenTcp {
  series: TcpSeries;
  sent: () => number;
  received: () => number;
  reportedSent: number;
  reportedReceived: number;
}

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly buckets: number[]) {
    this.counts = new Array(buckets.length).fill(0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
}

interface Series {
  labels: string;
  requests: number;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
}

function escape(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Workload facts of one side of a hop, as the metadata exchange carries them. */
export interface PeerInfo {
  workload: string;
  namespace: string;
  app: string;
  version: string;
  principal: string;
  cluster: string;
}

export const UNKNOWN_PEER: PeerInfo = { workload: "unknown", namespace: "unknown", app: "unknown", version: "unknown", principal: "unknown", cluster: "unknown" };

/** The request header a sidecar adds on the way out so the destination learns who called (stripped on the way in). */
export const PEER_HEADER = "x-trellis-peer-metadata";

export function encodePeer(p: PeerInfo): string {
  return Buffer.from(JSON.stringify(p)).toString("base64");
}

export function decodePeer(v: string | undefined): PeerInfo | undefined {
  if (!v) return undefined;
  try {
    const p = JSON.parse(Buffer.from(v, "base64").toString("utf8")) as Partial<PeerInfo>;
    if (typeof p.workload !== "string" || typeof p.namespace !== "string") return undefined;
    return { ...UNKNOWN_PEER, ...p } as PeerInfo;
  } catch {
    return undefined;
  }
}

/** "reviews-v1;default;reviews;v1;" as the translator puts it in endpoint metadata (istio.workload). */
export function peerFromWorkloadString(s: string | undefined, cluster = "Kubernetes"): PeerInfo | undefined {
  if (!s) return undefined;
  const [workload, namespace, app, version] = s.split(";");
  if (!workload) return undefined;
  return { workload, namespace: namespace || "unknown", app: app || "unknown", version: version || "unknown", principal: "unknown", cluster };
}

export class IstioMetrics {
  private readonly series = new Map<string, Series>();
  private readonly tcp = new Map<string, TcpSeries>();
  private readonly openTcp = new Set<OpenTcp>();

  /**
   * Counts a TCP connection opened; `sent` and `received` read its bytes (response and request direction) whenever
   * metrics are rendered. Returns the function that counts it closed, with its last bytes.
   */
  openTcpConnection(labels: TcpLabelValues, sent: () => number, received: () => number): () => void {
    let key = "";
    for (const name of TCP_LABELS) key += `${name}="${escape(labels[name])}",`;
    let series = this.tcp.get(key);
    if (!series) {
      series = { labels: key.slice(0, -1), opened: 0, closed: 0, sent: 0, received: 0 };
      this.tcp.set(key, series);
    }
    series.opened++;
    const open: OpenTcp = { series, sent, received, reportedSent: 0, reportedReceived: 0 };
    this.openTcp.add(open);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.flushTcp(open);
      this.openTcp.delete(open);
      open.series.closed++;
    };
  }

  private flushTcp(o: OpenTcp): void {
    const sent = o.sent();
    const received = o.received();
    o.series.sent += sent - o.reportedSent;
    o.series.received += received - o.reportedReceived;
    o.reportedSent = sent;
    o.reportedReceived = received;
  }

  record(labels: LabelValues, durationMs: number, requestBytes: number, responseBytes: number): void {
    let key = "";
    for (const name of LABELS) key += `${name}="${escape(labels[name])}",`;
    let s = this.series.get(key);
    if (!s) {
      s = { labels: key.slice(0, -1), requests: 0, duration: new Histogram(DURATION_BUCKETS_MS), requestBytes: new Histogram(SIZE_BUCKETS), responseBytes: new Histogram(SIZE_BUCKETS) };
      this.series.set(key, s);
    }
    s.requests++;
    s.duration.observe(durationMs);
    s.requestBytes.observe(requestBytes);
    s.responseBytes.observe(responseBytes);
  }

  prometheus(): string {
    return this.httpText() + this.tcpText();
  }

  private tcpText(): string {
    if (this.tcp.size === 0) return "";
    for (const o of this.openTcp) this.flushTcp(o);
    const out: string[] = [];
    const counter = (name: string, pick: (s: TcpSeries) => number) => {
      out.push(`# TYPE ${name} counter`);
      for (const s of this.tcp.values()) out.push(`${name}{${s.labels}} ${pick(s)}`);
    };
    counter("istio_tcp_sent_bytes_total", (s) => s.sent);
    counter("istio_tcp_received_bytes_total", (s) => s.received);
    counter("istio_tcp_connections_opened_total", (s) => s.opened);
    counter("istio_tcp_connections_closed_total", (s) => s.closed);
    return out.join("\n") + "\n";
  }

  private httpText(): string {
    if (this.series.size === 0) return "";
    const out: string[] = ["# TYPE istio_requests_total counter"];
    for (const s of this.series.values()) out.push(`istio_requests_total{${s.labels}} ${s.requests}`);
    const hist = (name: string, pick: (s: Series) => Histogram) => {
      out.push(`# TYPE ${name} histogram`);
      for (const s of this.series.values()) {
        const h = pick(s);
        h.buckets.forEach((b, i) => out.push(`${name}_bucket{${s.labels},le="${b}"} ${h.counts[i]}`));
        out.push(`${name}_bucket{${s.labels},le="+Inf"} ${h.count}`, `${name}_sum{${s.labels}} ${h.sum}`, `${name}_count{${s.labels}} ${h.count}`);
      }
    };
    hist("istio_request_duration_milliseconds", (s) => s.duration);
    hist("istio_request_bytes", (s) => s.requestBytes);
    hist("istio_response_bytes", (s) => s.responseBytes);
    return out.join("\n") + "\n";
  }
}
