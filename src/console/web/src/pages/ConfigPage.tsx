// Istio Config: every resource in the store with its validation status from the analyzer.
import { allResources, api, type Finding } from "../api";
import { usePoll, href } from "../router";

export function ConfigPage() {
  const resources = usePoll(allResources, [], 10_000);
  const findings = usePoll(() => api.get<Finding[]>("/api/v1/validations"), [], 10_000);
  const of = (kind: string, ns: string, name: string) => (findings.data ?? []).filter((f) => f.resource?.kind === kind && f.resource.namespace === ns && f.resource.name === name);
  return (
    <section>
      <h1>Istio Config</h1>
      <p><a className="button" href={href(["istio", "new"])}>Create a resource</a></p>
      {resources.error && <p role="alert" className="error">{resources.error}</p>}
      <table aria-label="Istio config">
        <thead><tr><th>Name</th><th>Namespace</th><th>Kind</th><th>Configuration</th></tr></thead>
        <tbody>{(resources.data ?? []).map((r) => {
          const ns = r.metadata.namespace ?? "default";
          const f = of(r.kind, ns, r.metadata.name);
          const worst = f.some((x) => x.level === "Error") ? "error" : f.some((x) => x.level === "Warning") ? "warn" : "ok";
          return (
            <tr key={`${r.kind}/${ns}/${r.metadata.name}`}>
              <td><a href={href(["istio", r.kind, ns, r.metadata.name])}>{r.metadata.name}</a></td><td>{ns}</td><td>{r.kind}</td>
              <td><span className={worst} title={f.map((x) => `${x.code}: ${x.message}`).join("\n")}>{worst === "ok" ? "✓ Valid" : `${f.length} ${worst === "error" ? "error" : "warning"}${f.length > 1 ? "s" : ""}`}</span></td>
            </tr>
          );
        })}</tbody>
      </table>
      {resources.data?.length === 0 && <p className="empty">No Istio resources yet.</p>}
    </section>
  );
}
