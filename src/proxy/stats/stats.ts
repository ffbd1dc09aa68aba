// Envoy-style counters and gauges (cluster.NAME.upstream_rq_2xx, http.PREFIX.downstream_rq_total, ...), cheap to bump.
export class Stats {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, number>();
  /** Figures read only when the stats are (process runtime stats): each sets its gauges before a dump. */
  private readonly collectors: Array<{ collect(s: Stats): void; reset(): void }> = [];

  addCollector(c: { collect(s: Stats): void; reset(): void }): void {
    this.collectors.push(c);
  }

  private collect(): void {
    for (const c of this.collectors) c.collect(this);
  }

  /** Envoy's /reset_counters: every counter to zero and collectors' windows restarted; gauges keep their levels. */
  resetCounters(): void {
    for (const k of this.counters.keys()) this.counters.set(k, 0);
    for (const c of this.collectors) c.reset();
  }

  inc(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  gauge(name: string, delta: number): void {
    this.gauges.set(name, (this.gauges.get(name) ?? 0) + delta);
  }

  setGauge(name: string, value: number): void {
    this.gauges.set(name, value);
  }

  counter(name: string): number {
    return this.counters.get(name) ?? 0;
  }

  gaugeValue(name: string): number {
    return this.gauges.get(name) ?? 0;
  }

  /** Envoy's /stats text: "name: value" lines, sorted. */
  text(filter?: RegExp): string {
    this.collect();
    const lines: string[] = [];
    for (const [k, v] of this.counters) if (!filter || filter.test(k)) lines.push(`${k}: ${v}`);
    for (const [k, v] of this.gauges) if (!filter || filter.test(k)) lines.push(`${k}: ${v}`);
    return lines.sort().join("\n") + "\n";
  }

  json(): { stats: Array<{ name: string; value: number }> } {
    this.collect();
    const stats = [...this.counters, ...this.gauges].map(([name, value]) => ({ name, value }));
    stats.sort((a, b) => a.name.localeCompare(b.name));
    return { stats };
  }

  /** Envoy's /stats/prometheus: envoy_ prefix, dots to underscores, cluster and prefix names as labels. */
  prometheus(): string {
    this.collect();
    const out: string[] = [];
    const emit = (map: Map<string, number>, type: string) => {
      const groups = new Map<string, string[]>();
      for (const [name, value] of map) {
        const { metric, labels } = promName(name);
        const list = groups.get(metric) ?? [];
        list.push(`${metric}${labels}${" "}${value}`);
        groups.set(metric, list);
      }
      for (const [metric, lines] of [...groups].sort(([a], [b]) => a.localeCompare(b))) out.push(`# TYPE ${metric} ${type}`, ...lines);
    };
    emit(this.counters, "counter");
    emit(this.gauges, "gauge");
    return out.join("\n") + "\n";
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** cluster.outbound|9080||reviews.upstream_rq_2xx -> envoy_cluster_upstream_rq_2xx{envoy_cluster_name="outbound|9080||reviews"}. */
function promName(name: string): { metric: string; labels: string } {
  const m = /^(cluster|http|listener|tcp)\.(.+)\.([a-z0-9_]+)$/.exec(name);
  if (m) {
    const label = m[1] === "cluster" ? "envoy_cluster_name" : m[1] === "listener" ? "envoy_listener_address" : m[1] === "tcp" ? "envoy_tcp_prefix" : "envoy_http_conn_manager_prefix";
    return { metric: `envoy_${m[1]}_${m[3]}`, labels: `{${label}="${escapeLabel(m[2])}"}` };
  }
  return { metric: `envoy_${name.replace(/[^a-zA-Z0-9_]/g, "_")}`, labels: "" };
}
