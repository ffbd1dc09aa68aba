// The last config changes and how far each got: for every accepted write, the proxies it affected, how many hold it,
// how long they took (p50/p99/max), and which NACKed (with the error), disconnected or have not answered.
import type { ChangeState, ChangeView } from "../../../../xds/propagation";
import { api } from "../api";
import { usePoll } from "../router";

const STATE_CLASS: Record<ChangeState, string> = { PENDING: "sync stale", PROPAGATING: "sync stale", DONE: "sync synced", FAILED: "sync nacked" };

function ms(v: number | undefined): string {
  return v === undefined ? "–" : v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`;
}

function problems(c: ChangeView): string {
  return [
    ...(c.error ? [c.error] : []),
    ...c.nacked.map((n) => `NACKED by ${n.proxy}: ${n.error}`),
    ...c.disconnected.map((d) => `${d} disconnected before it ACKed`),
    ...(c.waiting.length ? [`waiting for ${c.waiting.join(", ")}${c.proxies.waiting > c.waiting.length ? ", …" : ""}`] : []),
  ].join("; ");
}

export function PropagationPanel() {
  const changes = usePoll(() => api.get<{ generation: number; changes: ChangeView[] }>("/api/v1/propagation?limit=20"), [], 5_000);
  const list = changes.data?.changes ?? [];
  return (
    <section aria-label="Config propagation">
      <h2>Config propagation</h2>
      {changes.error && <p className="error">{changes.error}</p>}
      {!changes.error && list.length === 0 && <p className="empty">No config changes since the control plane started.</p>}
      {list.length > 0 && (
        <table aria-label="Changes">
          <thead><tr><th>Generation</th><th>Change</th><th>When</th><th>State</th><th>Proxies holding it</th><th>p50</th><th>p99</th><th>max</th><th>Not there</th></tr></thead>
          <tbody>{list.map((c) => (
            <tr key={c.generation}>
              <td>{c.generation}</td>
              <td>{c.op.toLowerCase()} {c.kind} {c.namespace}/{c.name}</td>
              <td>{new Date(c.at).toLocaleTimeString()}</td>
              <td><span className={STATE_CLASS[c.state]}>{c.state}</span></td>
              <td>{c.proxies.affected === 0 ? "none affected" : `${c.proxies.held} of ${c.proxies.affected}`}</td>
              <td>{ms(c.convergenceMs?.p50)}</td><td>{ms(c.convergenceMs?.p99)}</td><td>{ms(c.convergenceMs?.max)}</td>
              <td className={c.nacked.length || c.error ? "error" : ""}>{problems(c) || "–"}</td>
            </tr>
          ))}</tbody>
        </table>
      )}
    </section>
  );
}
