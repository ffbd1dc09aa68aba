// The xDS server's own Prometheus metrics under Istio's names, so Istio's dashboards and alerts read them unchanged:
// pilot_xds (connected streams, by proxy version), pilot_xds_pushes (responses sent, by type),
// pilot_total_xds_rejects (NACKs, by type) and pilot_proxy_convergence_time (seconds from a config write to a proxy
// holding it, Istio's buckets).
import type { ResourceKind } from "./resource.js";

/** Istio's short type names in metric labels. */
export const SHORT_TYPE: Record<ResourceKind, string> = { cluster: "cds", endpoint: "eds", listener: "lds", route: "rds", secret: "sds" };

/** Istio's buckets for pilot_proxy_convergence_time (pilot/pkg/xds/monitoring.go), in seconds. */
const CONVERGENCE_BUCKETS = [0.1, 0.5, 1, 3, 5, 10, 20, 30];

export class XdsMetrics {
  private readonly pushes = new Map<string, number>();
  private readonly rejects = new Map<string, number>();
  private readonly buckets = CONVERGENCE_BUCKETS.map(() => 0);
  private convergenceCount = 0;
  private convergenceSum = 0;

  constructor(private readonly connections: () => Map<string, number>) {}

  pushed(kind: ResourceKind): void {
    const t = SHORT_TYPE[kind];
    this.pushes.set(t, (this.pushes.get(t) ?? 0) + 1);
  }

  rejected(kind: ResourceKind): void {
    const t = SHORT_TYPE[kind];
    this.rejects.set(t, (this.rejects.get(t) ?? 0) + 1);
  }

  converged(seconds: number): void {
    this.convergenceCount++;
    this.convergenceSum += seconds;
    CONVERGENCE_BUCKETS.forEach((le, i) => { if (seconds <= le) this.buckets[i]++; });
  }

  /** The Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    lines.push("# HELP pilot_xds Number of endpoints connected to this pilot using XDS.", "# TYPE pilot_xds gauge");
    for (const [version, n] of this.connections()) lines.push(`pilot_xds{version="${label(version)}"} ${n}`);
    lines.push("# HELP pilot_xds_pushes Pilot build and send errors for lds, rds, cds and eds.", "# TYPE pilot_xds_pushes counter");
    for (const [t, n] of [...this.pushes].sort()) lines.push(`pilot_xds_pushes{type="${t}"} ${n}`);
    lines.push("# HELP pilot_total_xds_rejects Total number of XDS responses from pilot rejected by proxy.", "# TYPE pilot_total_xds_rejects counter");
    for (const [t, n] of [...this.rejects].sort()) lines.push(`pilot_total_xds_rejects{type="${t}"} ${n}`);
    lines.push("# HELP pilot_proxy_convergence_time Delay in seconds between config change and a proxy receiving all required configuration.", "# TYPE pilot_proxy_convergence_time histogram");
    CONVERGENCE_BUCKETS.forEach((le, i) => lines.push(`pilot_proxy_convergence_time_bucket{le="${le}"} ${this.buckets[i]}`));
    lines.push(`pilot_proxy_convergence_time_bucket{le="+Inf"} ${this.convergenceCount}`);
    lines.push(`pilot_proxy_convergence_time_sum ${this.convergenceSum}`, `pilot_proxy_convergence_time_count ${this.convergenceCount}`);
    return lines.join("\n") + "\n";
  }
}
