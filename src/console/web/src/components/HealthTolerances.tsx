// The health tolerances in force (trellis control --health-config, Kiali's health_config.rate), or the defaults.
import { api } from "../api";
import { usePoll } from "../router";

interface Tolerance { code: string; protocol: string; direction: string; degraded: number; failure: number }
interface HealthConfigView { rate: Array<{ namespace: string; kind: string; name: string; tolerance: Tolerance[] }> | null; defaults: { degradedPercent: number; failurePercent: number } }

export function HealthTolerances() {
  const { data, error } = usePoll(() => api.get<HealthConfigView>("/api/v1/telemetry/health-config"), [], 60_000);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="muted">Loading…</p>;
  if (!data.rate) {
    return <p>As Kiali's defaults, for every namespace: <strong>Degraded</strong> from {data.defaults.degradedPercent} % of requests failing, <strong>Failure</strong> from {data.defaults.failurePercent} %. Failures count 5xx, no response, and gRPC calls that did not end OK, as the callers' sidecars saw them. Set per-namespace tolerances with <code>trellis control --health-config FILE</code>.</p>;
  }
  return (
    <table aria-label="Tolerances">
      <thead><tr><th>Namespace</th><th>Kind</th><th>Name</th><th>Codes</th><th>Protocol</th><th>Direction</th><th>Degraded</th><th>Failure</th></tr></thead>
      <tbody>{data.rate.flatMap((r, i) => r.tolerance.map((t, j) => (
        <tr key={`${i}.${j}`}><td>{r.namespace}</td><td>{r.kind}</td><td>{r.name}</td><td><code>{t.code}</code></td><td>{t.protocol}</td><td>{t.direction}</td><td>{t.degraded} %</td><td>{t.failure} %</td></tr>
      )))}</tbody>
    </table>
  );
}
