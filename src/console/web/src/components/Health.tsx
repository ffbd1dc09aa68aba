// A health badge with Kiali's colours and a text label (never colour alone).
import type { HealthEntry } from "../api";

const COLOR: Record<HealthEntry["status"], string> = { Healthy: "#3e8635", Degraded: "#f0ab00", Failure: "#c9190b", NA: "#8a8d90" };

export function HealthBadge({ status }: { status: HealthEntry["status"] }) {
  return <span className="badge" style={{ background: COLOR[status] }} title={`Health: ${status}`}>{status === "NA" ? "No traffic" : status}</span>;
}

export function worst(statuses: Array<HealthEntry["status"]>): HealthEntry["status"] {
  for (const s of ["Failure", "Degraded", "Healthy"] as const) if (statuses.includes(s)) return s;
  return "NA";
}

export const pct = (v: number) => `${(v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1)}%`;
