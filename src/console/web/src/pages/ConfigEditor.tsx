// The YAML editor: live validation through the control plane's dry run (the same checks as a real write), save
// (create or replace with optimistic concurrency) and delete. Nothing invalid is ever saved.
import { useEffect, useState } from "react";
import { parse, stringify } from "yaml";
import { ApiError, api, kindPath, saveResource, type Finding, type Resource } from "../api";
import { href } from "../router";

const TEMPLATE = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: my-route
  namespace: default
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
`;

interface Check { state: "checking" | "valid" | "invalid"; message?: string; findings: Finding[] }

export function ConfigEditor({ kind, namespace, name }: { kind?: string; namespace?: string; name?: string }) {
  const existing = kind && namespace && name;
  const [text, setText] = useState(existing ? "" : TEMPLATE);
  const [loaded, setLoaded] = useState(!existing);
  const [check, setCheck] = useState<Check>({ state: "checking", findings: [] });
  const [saved, setSaved] = useState<string>();
  const [saveError, setSaveError] = useState<string>();

  useEffect(() => {
    if (!existing) return;
    api.get<Resource>(kindPath(kind, namespace, name)).then((r) => {
      const { resourceVersion: _v, ...metadata } = r.metadata;
      setText(stringify({ ...r, metadata }));
      setLoaded(true);
    }, (err: Error) => setSaveError(err.message));
  }, [kind, namespace, name, existing]);

  useEffect(() => {
    if (!loaded) return;
    setCheck((c) => ({ ...c, state: "checking" }));
    const timer = setTimeout(async () => {
      let r: Resource;
      try {
        r = parse(text) as Resource;
        if (!r || typeof r !== "object" || !r.kind || !r.metadata?.name) throw new Error("a resource needs apiVersion, kind and metadata.name");
      } catch (err) {
        return setCheck({ state: "invalid", message: `YAML: ${(err as Error).message}`, findings: [] });
      }
      try {
        const result = await saveResource(r, true);
        setCheck({ state: "valid", findings: result.warnings ?? [] });
      } catch (err) {
        const findings = err instanceof ApiError ? ((err.body as { details?: { findings?: Finding[] } })?.details?.findings ?? []) : [];
        setCheck({ state: "invalid", message: (err as Error).message, findings });
      }
    }, 400);
    return () => clearTimeout(timer);
  }, [text, loaded]);

  const save = async () => {
    setSaved(undefined);
    setSaveError(undefined);
    try {
      const r = await saveResource(parse(text) as Resource);
      setSaved(`Saved ${r.kind} ${r.metadata.namespace}/${r.metadata.name} (version ${r.metadata.resourceVersion}).`);
    } catch (err) {
      setSaveError((err as Error).message);
    }
  };
  const remove = async () => {
    if (!existing || !window.confirm(`Delete ${kind} ${namespace}/${name}?`)) return;
    try {
      await api.del(kindPath(kind, namespace, name));
      window.location.hash = href(["istio"]);
    } catch (err) {
      setSaveError((err as Error).message);
    }
  };
  return (
    <section>
      <p><a href={href(["istio"])}>Istio Config</a></p>
      <h1>{existing ? `${kind} ${namespace}/${name}` : "New resource"}</h1>
      <label htmlFor="yaml">YAML</label>
      <textarea id="yaml" className="editor" spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} rows={24} />
      <div role="status" aria-live="polite" className="validation">
        {check.state === "checking" && <span className="muted">Validating…</span>}
        {check.state === "valid" && <span className="ok">✓ Valid{check.findings.length ? ` with ${check.findings.length} warning${check.findings.length > 1 ? "s" : ""}` : ""}</span>}
        {check.state === "invalid" && <span className="error">✗ {check.message}</span>}
        <ul>{check.findings.map((f, i) => <li key={i} className={f.level === "Error" ? "error" : "warn"}>{f.code} {f.path ? `${f.path}: ` : ""}{f.message}</li>)}</ul>
      </div>
      <button onClick={() => void save()} disabled={check.state !== "valid"}>Save</button>
      {existing && <button className="danger" onClick={() => void remove()}>Delete</button>}
      {saved && <p role="status" className="ok">{saved}</p>}
      {saveError && <p role="alert" className="error">{saveError}</p>}
    </section>
  );
}
