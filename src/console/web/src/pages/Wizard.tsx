// Kiali's service wizards: request routing, traffic shifting, fault injection, timeouts and retries, circuit
// breaking. Each opens on the service's routing as it is, saves with Update (only the fields it owns change), warns
// and asks before changing routing a person wrote by hand, and "Delete traffic routing" removes it, as Kiali's do.
import { useEffect, useState } from "react";
import { stringify } from "yaml";
import { allResources, ApiError, api, kindPath, saveResource, type Finding, type Resource } from "../api";
import { href } from "../router";
import { FindingList, SeverityLabel } from "../components/Findings";
import { applyWizard, createdByWizard, formFrom, routingOf, type Form } from "./wizard-model";

export const WIZARDS: Array<[string, string]> = [["routing", "Request routing"], ["shifting", "Traffic shifting"], ["fault", "Fault injection"], ["timeouts", "Timeouts and retries"], ["breaker", "Circuit breaking"]];

const findingsOf = (err: unknown): Finding[] => (err instanceof ApiError ? ((err.body as { details?: { findings?: Finding[] } })?.details?.findings ?? []) : []);

export function Wizard({ type, service, namespace, versions }: { type: string; service: string; namespace: string; versions: string[] }) {
  const [existing, setExisting] = useState<{ vs?: Resource; dr?: Resource }>();
  const [f, setF] = useState<Form>();
  const [loadError, setLoadError] = useState<string>();
  const [confirmForeign, setConfirmForeign] = useState(false);
  const [result, setResult] = useState<{ ok?: string; error?: string; findings?: Finding[] }>({});
  const load = () => allResources().then((all) => {
    const found = routingOf(all, service, namespace);
    setExisting(found);
    setF(formFrom(versions, found.vs, found.dr));
  }, (err: Error) => setLoadError(err.message));
  useEffect(() => { void load(); }, [service, namespace, versions.join()]);
  if (loadError) return <p role="alert" className="error">Cannot read the service's routing: {loadError}</p>;
  if (!existing || !f) return <p className="muted">Loading the routing of {service}…</p>;

  const resources = applyWizard(type, service, namespace, versions, f, existing);
  const touched = resources.map((r) => (r.kind === "VirtualService" ? existing.vs : existing.dr)).filter((r): r is Resource => !!r);
  const foreign = touched.filter((r) => !createdByWizard(r));
  const update = touched.length > 0;
  const total = Object.values(f.weights).reduce((a, b) => a + b, 0);
  const weighted = type === "routing" || type === "shifting";
  const invalid = weighted && total !== 100 ? `The weights add up to ${total}; they must add up to 100.` : undefined;
  const blocked = invalid ?? (foreign.length && !confirmForeign ? "Confirm that the wizard may change routing it did not create." : undefined);
  const num = (v: string) => (v === "" ? 0 : Number(v));

  const save = async () => {
    setResult({});
    const findings: Finding[] = [];
    try {
      // A dry run of everything first: nothing is half-saved, and errors the analyzer finds are asked about.
      for (const r of resources) findings.push(...((await saveResource(r, true)).warnings ?? []));
      // A route's subset that the DestinationRule saved first in this batch defines is not missing: the dry runs
      // each see the store as it is, without the other resource of the batch.
      const batchSubsets = resources.filter((r) => r.kind === "DestinationRule").flatMap((r) => ((r.spec?.subsets as Array<{ name?: string }> | undefined) ?? []).map((x) => x.name));
      findings.splice(0, findings.length, ...findings.filter((x) => !(x.code === "TRL1002" && batchSubsets.some((n) => x.message.includes(`subset "${n}"`)))));
    } catch (err) {
      return setResult({ error: (err as Error).message, findings: findingsOf(err) });
    }
    const errors = findings.filter((x) => x.level === "Error").length;
    if (errors && !window.confirm(`The analyzer reports ${errors} error${errors > 1 ? "s" : ""} in this routing. Save anyway?`)) return setResult({ findings });
    try {
      for (const r of resources) await saveResource(r);
      setResult({ ok: `${update ? "Updated" : "Created"} ${resources.map((r) => `${r.kind} ${namespace}/${r.metadata.name}`).join(" and ")}.`, findings });
      await load();
    } catch (err) {
      setResult({ error: (err as Error).message, findings: findingsOf(err) });
    }
  };
  const remove = async () => {
    const all = [existing.vs, existing.dr].filter((r): r is Resource => !!r);
    const names = all.map((r) => `${r.kind} ${namespace}/${r.metadata.name}${createdByWizard(r) ? "" : " (not created by a wizard)"}`).join("\n");
    if (!window.confirm(`Delete the traffic routing of ${service}?\n${names}`)) return;
    try {
      for (const r of all) await api.del(kindPath(r.kind, namespace, r.metadata.name));
      setResult({ ok: `Deleted the traffic routing of ${service}.` });
      await load();
    } catch (err) {
      setResult({ error: (err as Error).message });
    }
  };
  return (
    <form className="wizard" aria-label={WIZARDS.find(([id]) => id === type)?.[1]} onSubmit={(e) => { e.preventDefault(); void save(); }}>
      <p className="muted" aria-label="Existing routing">
        {existing.vs || existing.dr
          ? `Opened on the routing that exists: ${[existing.vs, existing.dr].filter(Boolean).map((r) => `${r!.kind} ${namespace}/${r!.metadata.name}`).join(", ")}.`
          : `${service} has no VirtualService or DestinationRule yet; this wizard creates them.`}
      </p>
      {foreign.length > 0 && (
        <div role="alert" className="callout warn">
          {foreign.map((r) => `${r.kind} ${namespace}/${r.metadata.name}`).join(" and ")} {foreign.length > 1 ? "were" : "was"} not created by a wizard. Update keeps
          everything else in {foreign.length > 1 ? "them" : "it"} and changes only what this wizard sets (see the preview).
          <label><input type="checkbox" checked={confirmForeign} onChange={(e) => setConfirmForeign(e.target.checked)} /> Change routing I did not create</label>
        </div>
      )}
      {weighted && versions.map((v) => (
        <label key={v}>Weight of {v} <input type="number" min={0} max={100} value={f.weights[v] ?? 0} onChange={(e) => setF({ ...f, weights: { ...f.weights, [v]: num(e.target.value) } })} /> %</label>
      ))}
      {type === "routing" && (
        <fieldset><legend>Requests with a header go to one version</legend>
          <label>Header <input value={f.header.name} onChange={(e) => setF({ ...f, header: { ...f.header, name: e.target.value } })} /></label>
          <label>equals <input value={f.header.value} onChange={(e) => setF({ ...f, header: { ...f.header, value: e.target.value } })} /></label>
          <label>to version <select value={f.header.version} onChange={(e) => setF({ ...f, header: { ...f.header, version: e.target.value } })}>{versions.map((v) => <option key={v}>{v}</option>)}</select></label>
        </fieldset>
      )}
      {type === "fault" && (<>
        <label>Delay <input value={f.fault.delay} onChange={(e) => setF({ ...f, fault: { ...f.fault, delay: e.target.value } })} /> for <input type="number" aria-label="Delay percentage" value={f.fault.delayPct} onChange={(e) => setF({ ...f, fault: { ...f.fault, delayPct: num(e.target.value) } })} /> % of requests</label>
        <label>Abort with HTTP <input type="number" aria-label="Abort status" value={f.fault.status} onChange={(e) => setF({ ...f, fault: { ...f.fault, status: num(e.target.value) } })} /> for <input type="number" aria-label="Abort percentage" value={f.fault.abortPct} onChange={(e) => setF({ ...f, fault: { ...f.fault, abortPct: num(e.target.value) } })} /> % of requests</label>
      </>)}
      {type === "timeouts" && (<>
        <label>Timeout <input value={f.timeout} onChange={(e) => setF({ ...f, timeout: e.target.value })} /></label>
        <label>Retry attempts <input type="number" value={f.retries.attempts} onChange={(e) => setF({ ...f, retries: { ...f.retries, attempts: num(e.target.value) } })} /></label>
        <label>Per-try timeout <input value={f.retries.perTryTimeout} onChange={(e) => setF({ ...f, retries: { ...f.retries, perTryTimeout: e.target.value } })} /></label>
      </>)}
      {type === "breaker" && (<>
        <label>Max pending requests <input type="number" value={f.breaker.maxPending} onChange={(e) => setF({ ...f, breaker: { ...f.breaker, maxPending: num(e.target.value) } })} /></label>
        <label>Max requests per connection <input type="number" value={f.breaker.maxRequestsPerConnection} onChange={(e) => setF({ ...f, breaker: { ...f.breaker, maxRequestsPerConnection: num(e.target.value) } })} /></label>
        <label>Eject after consecutive 5xx <input type="number" value={f.breaker.consecutive5xx} onChange={(e) => setF({ ...f, breaker: { ...f.breaker, consecutive5xx: num(e.target.value) } })} /></label>
        <label>Ejection time <input value={f.breaker.ejection} onChange={(e) => setF({ ...f, breaker: { ...f.breaker, ejection: e.target.value } })} /></label>
      </>)}
      <details open><summary>Preview</summary><pre className="code" aria-label="Preview">{resources.map((r) => stringify(r)).join("---\n")}</pre></details>
      {invalid && <p role="alert" className="error">{invalid}</p>}
      <button type="submit" disabled={!!blocked} title={blocked}>{update ? "Update" : "Create"}</button>
      {(existing.vs || existing.dr) && <button type="button" className="danger" onClick={() => void remove()}>Delete traffic routing</button>}
      {result.ok && <p role="status" className="ok">{result.ok} <a href={href(["istio"])}>See Istio Config</a></p>}
      {result.error && <p role="alert" className="error">{result.error}</p>}
      {result.findings && result.findings.length > 0 && <p><SeverityLabel findings={result.findings} /></p>}
      <FindingList findings={result.findings ?? []} />
    </form>
  );
}
