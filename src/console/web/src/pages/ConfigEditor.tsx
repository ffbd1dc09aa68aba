// The YAML editor: a code editor with line numbers and each finding on its line, live validation through the
// control plane's dry run (the same checks as a real write), save (create or replace with optimistic concurrency;
// with analyzer errors it asks first) and delete. What the API refuses is never saved.
import { useEffect, useState } from "react";
import { parse, stringify } from "yaml";
import { ApiError, api, kindPath, saveResource, type Finding, type Resource } from "../api";
import { href } from "../router";
import { FindingList, SeverityLabel } from "../components/Findings";
import { rangeOf, YamlEditor } from "../components/YamlEditor";

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

/** refused: the API would not store it (schema, YAML); checked: it would, with these findings. */
interface Check { state: "checking" | "checked" | "refused"; message?: string; findings: Finding[] }

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
        return setCheck({ state: "refused", message: `YAML: ${(err as Error).message}`, findings: [] });
      }
      try {
        const result = await saveResource(r, true);
        setCheck({ state: "checked", findings: result.warnings ?? [] });
      } catch (err) {
        const findings = err instanceof ApiError ? ((err.body as { details?: { findings?: Finding[] } })?.details?.findings ?? []) : [];
        setCheck({ state: "refused", message: (err as Error).message, findings });
      }
    }, 400);
    return () => clearTimeout(timer);
  }, [text, loaded]);

  const errors = check.findings.filter((f) => f.level === "Error").length;
  const save = async () => {
    setSaved(undefined);
    setSaveError(undefined);
    if (errors && !window.confirm(`This resource has ${errors} error${errors > 1 ? "s" : ""}. Save it anyway?`)) return;
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
      {loaded && <YamlEditor value={text} onChange={setText} findings={check.findings} label="YAML" />}
      <div role="status" aria-live="polite" className="validation">
        {check.state === "checking" && <span className="muted">Validating…</span>}
        {check.state === "checked" && <SeverityLabel findings={check.findings} />}
        {check.state === "refused" && <span className="severity error" data-severity="error"><i className="dot error" aria-hidden="true" />Refused: {check.message}</span>}
        <FindingList findings={check.findings} lineOf={(f) => rangeOf(text, f.path)?.line} />
      </div>
      <button onClick={() => void save()} disabled={check.state !== "checked"} title={check.state === "refused" ? "The control plane refuses this resource" : undefined}>{errors ? "Save with errors…" : "Save"}</button>
      {existing && <button className="danger" onClick={() => void remove()}>Delete</button>}
      {saved && <p role="status" className="ok">{saved}</p>}
      {saveError && <p role="alert" className="error">{saveError}</p>}
    </section>
  );
}
