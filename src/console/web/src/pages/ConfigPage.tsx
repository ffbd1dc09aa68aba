// Istio Config: every resource in the store with its validation from the analyzer, filtered by kind, namespace,
// validity and name, sorted by any column.
import { useState } from "react";
import { allResources, api, KINDS, type Finding } from "../api";
import { usePoll, href } from "../router";
import { SeverityLabel, severityOf } from "../components/Findings";
import { matchesText, useSort } from "../components/table-sort";

const RANK = { error: 0, warning: 1, info: 2, valid: 3 };

export function ConfigPage() {
  const resources = usePoll(allResources, [], 10_000);
  const findings = usePoll(() => api.get<Finding[]>("/api/v1/validations"), [], 10_000);
  const [kind, setKind] = useState("");
  const [namespace, setNamespace] = useState("");
  const [validity, setValidity] = useState("");
  const [text, setText] = useState("");
  const rows = (resources.data ?? []).map((r) => {
    const ns = r.metadata.namespace ?? "default";
    const f = (findings.data ?? []).filter((x) => x.resource?.kind === r.kind && x.resource.namespace === ns && x.resource.name === r.metadata.name);
    return { r, ns, f, severity: severityOf(f) };
  });
  const namespaces = [...new Set(rows.map((x) => x.ns))].sort();
  const shown = rows.filter((x) => (!kind || x.r.kind === kind) && (!namespace || x.ns === namespace) && (!validity || x.severity === validity) && matchesText(text, x.r.metadata.name));
  const { sorted, header } = useSort(shown, { name: (x) => x.r.metadata.name, namespace: (x) => x.ns, kind: (x) => x.r.kind, config: (x) => RANK[x.severity] }, "name");
  return (
    <section>
      <h1>Istio Config</h1>
      <div className="toolbar" role="toolbar" aria-label="Filters">
        <label>Name <input value={text} onChange={(e) => setText(e.target.value)} size={12} /></label>
        <label>Kind <select value={kind} onChange={(e) => setKind(e.target.value)}><option value="">All kinds</option>{KINDS.map((k) => <option key={k.kind}>{k.kind}</option>)}</select></label>
        <label>Namespace <select value={namespace} onChange={(e) => setNamespace(e.target.value)}><option value="">All namespaces</option>{namespaces.map((n) => <option key={n}>{n}</option>)}</select></label>
        <label>Validity <select value={validity} onChange={(e) => setValidity(e.target.value)}><option value="">Any</option><option value="error">Errors</option><option value="warning">Warnings</option><option value="info">Infos</option><option value="valid">Valid</option></select></label>
        <a className="button" href={href(["istio", "new"])}>Create a resource</a>
      </div>
      {resources.error && <p role="alert" className="error">{resources.error}</p>}
      <table aria-label="Istio config">
        <thead><tr>{header("name", "Name")}{header("namespace", "Namespace")}{header("kind", "Kind")}{header("config", "Configuration")}</tr></thead>
        <tbody>{sorted.map(({ r, ns, f }) => (
          <tr key={`${r.kind}/${ns}/${r.metadata.name}`}>
            <td><a href={href(["istio", r.kind, ns, r.metadata.name])}>{r.metadata.name}</a></td><td>{ns}</td><td>{r.kind}</td>
            <td><SeverityLabel findings={f} /></td>
          </tr>
        ))}</tbody>
      </table>
      {resources.data?.length === 0 && <p className="empty">No Istio resources yet.</p>}
      {resources.data && resources.data.length > 0 && sorted.length === 0 && <p className="empty">No resource matches these filters.</p>}
    </section>
  );
}
