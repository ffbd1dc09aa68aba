// The Mesh page: the control plane (version, readiness, the proxies connected to it and their sync), the certificate
// authority (mode, trust domain, each root's expiry), Kiali's health tolerances, and the propagation of the last
// config changes (this replica's proxies).
import { api, type ProxyStatus } from "../api";
import { usePoll } from "../router";
import { SyncLegend } from "../components/EnvoyTables";
import { PropagationPanel } from "../components/PropagationPanel";
import { HealthTolerances } from "../components/HealthTolerances";

interface Ca { mode: string; trustDomain: string; rotating: boolean; roots: Array<{ sha256: string; notBefore: string; notAfter: string; signing: boolean }> }

const days = (iso: string) => Math.floor((new Date(iso).getTime() - Date.now()) / 86_400_000);

export function MeshPage() {
  const version = usePoll(() => api.get<{ version: string }>("/version"), []);
  const ready = usePoll(() => fetch("/readyz").then((r) => r.status), [], 15_000);
  const proxies = usePoll(() => api.get<ProxyStatus[]>("/debug/proxies"), [], 10_000);
  const ca = usePoll(() => api.get<Ca>("/api/v1/ca"), [], 60_000);
  const list = proxies.data ?? [];
  const count = (state: string) => list.filter((p) => p.types.some((t) => t.state === state)).length;
  return (
    <section>
      <h1>Mesh</h1>
      <div className="cards">
        <article className="card" aria-label="Control plane">
          <h2>Control plane</h2>
          <dl className="facts">
            <dt>Version</dt><dd>{version.data?.version ?? "–"}</dd>
            <dt>Ready</dt><dd>{ready.data === undefined ? "–" : ready.data === 200 ? "yes" : `no (HTTP ${ready.data})`}</dd>
            <dt>Replicas</dt><dd>1 (this console's); other replicas are not listed</dd>
            <dt>Connected proxies</dt><dd>{list.length}</dd>
            <dt>Synced</dt><dd>{list.filter((p) => p.types.every((t) => t.state === "SYNCED" || t.state === "NOT SENT")).length} of {list.length}</dd>
            <dt>Stale / NACKed</dt><dd>{count("STALE")} / {count("NACKED")}</dd>
          </dl>
        </article>
        <article className="card" aria-label="Certificate authority">
          <h2>Certificate authority</h2>
          {ca.error && <p className="muted">{ca.error}</p>}
          {ca.data && (<>
            <dl className="facts"><dt>Mode</dt><dd>{ca.data.mode}</dd><dt>Trust domain</dt><dd>{ca.data.trustDomain}</dd><dt>Root rotation</dt><dd>{ca.data.rotating ? "under way" : "none"}</dd></dl>
            <table aria-label="Roots">
              <thead><tr><th>Root</th><th>Signing</th><th>Expires</th></tr></thead>
              <tbody>{ca.data.roots.map((r) => (
                <tr key={r.sha256}><td title={r.sha256}>{r.sha256.slice(0, 23)}…</td><td>{r.signing ? "yes" : "no"}</td><td className={days(r.notAfter) < 30 ? "error" : ""}>{new Date(r.notAfter).toLocaleDateString()} (in {days(r.notAfter)} days)</td></tr>
              ))}</tbody>
            </table>
          </>)}
        </article>
        <article className="card" aria-label="Health tolerances">
          <h2>Health tolerances</h2>
          <HealthTolerances />
        </article>
      </div>
      <h2>Proxies</h2>
      <table aria-label="Proxies">
        <thead><tr><th>Proxy</th><th>Namespace</th><th>Connected</th><th>xDS</th></tr></thead>
        <tbody>{list.map((p) => (
          <tr key={p.node.id}><td>{p.node.id}</td><td>{p.workload?.namespace ?? "–"}</td><td>{new Date(p.connectedAt).toLocaleTimeString()}</td>
            <td>{p.types.map((t) => <span key={t.typeUrl} className={`sync ${t.state.replace(" ", "-").toLowerCase()}`} title={t.nackError ?? ""}>{t.typeUrl.split(".").pop()!.replace("ClusterLoadAssignment", "Endpoints")}: {t.state}</span>)}</td></tr>
        ))}</tbody>
      </table>
      <SyncLegend />
      <PropagationPanel />
    </section>
  );
}
