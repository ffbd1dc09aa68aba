// Kiali's service wizards: request routing, fault injection, traffic shifting, timeouts and retries, circuit
// breaking. Each writes a VirtualService and a DestinationRule (subsets per version) for the service, previewed as
// YAML and validated by the control plane before it is saved.
import { useState } from "react";
import { stringify } from "yaml";
import { ApiError, saveResource, type Finding, type Resource } from "../api";
import { href } from "../router";

export const WIZARDS: Array<[string, string]> = [["routing", "Request routing"], ["shifting", "Traffic shifting"], ["fault", "Fault injection"], ["timeouts", "Timeouts and retries"], ["breaker", "Circuit breaking"]];

interface Form {
  weights: Record<string, number>;
  header: { name: string; value: string; version: string };
  fault: { delayPct: number; delay: string; abortPct: number; status: number };
  timeout: string;
  retries: { attempts: number; perTryTimeout: string };
  breaker: { maxPending: number; maxRequestsPerConnection: number; consecutive5xx: number; interval: string; ejection: string };
}

export function buildResources(type: string, service: string, namespace: string, versions: string[], f: Form): Resource[] {
  const host = service;
  const route = versions.map((v) => ({ destination: { host, subset: v }, weight: f.weights[v] ?? 0 }));
  const http: Array<Record<string, unknown>> = [];
  if (type === "routing" && f.header.name && f.header.value) http.push({ match: [{ headers: { [f.header.name.toLowerCase()]: { exact: f.header.value } } }], route: [{ destination: { host, subset: f.header.version } }] });
  const main: Record<string, unknown> = { route: type === "routing" || type === "shifting" ? route.filter((r) => r.weight > 0) : [{ destination: { host } }] };
  if (type === "fault") {
    main.fault = {
      ...(f.fault.delayPct > 0 ? { delay: { fixedDelay: f.fault.delay, percentage: { value: f.fault.delayPct } } } : {}),
      ...(f.fault.abortPct > 0 ? { abort: { httpStatus: f.fault.status, percentage: { value: f.fault.abortPct } } } : {}),
    };
  }
  if (type === "timeouts") {
    if (f.timeout) main.timeout = f.timeout;
    main.retries = { attempts: f.retries.attempts, perTryTimeout: f.retries.perTryTimeout, retryOn: "gateway-error,connect-failure,refused-stream" };
  }
  http.push(main);
  const meta = { name: service, namespace, labels: { "trellis.io/created-by": "console-wizard" } };
  const dr: Resource = { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: meta, spec: { host, subsets: versions.map((v) => ({ name: v, labels: { version: v } })) } };
  if (type === "breaker") {
    dr.spec!.trafficPolicy = {
      connectionPool: { http: { http1MaxPendingRequests: f.breaker.maxPending, maxRequestsPerConnection: f.breaker.maxRequestsPerConnection } },
      outlierDetection: { consecutive5xxErrors: f.breaker.consecutive5xx, interval: f.breaker.interval, baseEjectionTime: f.breaker.ejection, maxEjectionPercent: 100 },
    };
  }
  const vs: Resource = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: meta, spec: { hosts: [host], http } };
  return [dr, vs];
}

export function Wizard({ type, service, namespace, versions }: { type: string; service: string; namespace: string; versions: string[] }) {
  const even = Math.floor(100 / Math.max(1, versions.length));
  const [f, setF] = useState<Form>({
    weights: Object.fromEntries(versions.map((v, i) => [v, i === 0 ? 100 - even * (versions.length - 1) : even])),
    header: { name: "end-user", value: "", version: versions[versions.length - 1] ?? "" },
    fault: { delayPct: 0, delay: "5s", abortPct: 0, status: 503 },
    timeout: "2s",
    retries: { attempts: 3, perTryTimeout: "1s" },
    breaker: { maxPending: 1, maxRequestsPerConnection: 1, consecutive5xx: 5, interval: "10s", ejection: "30s" },
  });
  const [result, setResult] = useState<{ ok?: string; error?: string; findings?: Finding[] }>({});
  const resources = buildResources(type, service, namespace, versions, f);
  const total = Object.values(f.weights).reduce((a, b) => a + b, 0);
  const weighted = type === "routing" || type === "shifting";
  const invalid = weighted && total !== 100 ? `The weights add up to ${total}; they must add up to 100.` : undefined;
  const num = (v: string) => (v === "" ? 0 : Number(v));
  const save = async () => {
    setResult({});
    try {
      const findings: Finding[] = [];
      for (const r of resources) findings.push(...((await saveResource(r)).warnings ?? []));
      setResult({ ok: `Saved DestinationRule and VirtualService ${namespace}/${service}.`, findings });
    } catch (err) {
      setResult({ error: (err as Error).message, findings: err instanceof ApiError ? ((err.body as { details?: { findings?: Finding[] } })?.details?.findings ?? []) : [] });
    }
  };
  return (
    <form className="wizard" aria-label={WIZARDS.find(([id]) => id === type)?.[1]} onSubmit={(e) => { e.preventDefault(); void save(); }}>
      {weighted && versions.map((v) => (
        <label key={v}>Weight of {v} <input type="number" min={0} max={100} value={f.weights[v]} onChange={(e) => setF({ ...f, weights: { ...f.weights, [v]: num(e.target.value) } })} /> %</label>
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
      <button type="submit" disabled={!!invalid}>Create or update</button>
      {result.ok && <p role="status" className="ok">{result.ok} <a href={href(["istio"])}>See Istio Config</a></p>}
      {result.error && <p role="alert" className="error">{result.error}</p>}
      {result.findings?.map((x, i) => <p key={i} className={x.level === "Error" ? "error" : "warn"}>{x.code}: {x.message}</p>)}
    </form>
  );
}
