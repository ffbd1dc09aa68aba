// `trellis apply --wait`: follows each written resource's change (by its resourceVersion) through the propagation
// API until every proxy it affects holds it, one rejects it, or the timeout passes; prints one line per change and
// names the proxies that NACKed (with their error), disconnected, or did not answer. A change not recorded yet (a
// Kubernetes store reports writes through its watch, a moment later) is asked for again until the timeout.
import type { ChangeView } from "../xds/propagation.js";
import { call } from "./rest-client.js";

export interface Written {
  kind: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  label: string;
}


const POLL_MS = 100;

async function lookup(base: string, w: Written): Promise<ChangeView | undefined> {
  const q = new URLSearchParams({ kind: w.kind, namespace: w.namespace, name: w.name, resourceVersion: w.resourceVersion });
  const res = await call(base, "GET", `/api/v1/propagation/lookup?${q}`);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`propagation API: ${String(res.body.message ?? res.status)}`);
  return res.body as unknown as ChangeView;
}

function timing(c: ChangeView): string {
  return c.convergenceMs ? ` in ${c.convergenceMs.max} ms (p50 ${c.convergenceMs.p50} ms, p99 ${c.convergenceMs.p99} ms)` : "";
}

/** Waits for every write; returns the number of changes that did not reach every affected proxy. */
export async function waitForPropagation(base: string, written: Written[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  const last = new Map<Written, ChangeView | undefined>();
  let open = [...written];
  while (open.length) {
    for (const w of open) last.set(w, await lookup(base, w));
    open = open.filter((w) => { const s = last.get(w)?.state; return s !== "DONE" && s !== "FAILED"; });
    if (!open.length || Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  let failed = 0;
  for (const w of written) {
    const c = last.get(w);
    if (!c) {
      failed++;
      console.error(`${w.label}: the control plane recorded no change for this write (resourceVersion ${w.resourceVersion}) within ${timeoutMs / 1000}s; its store may not have reported it yet, or 200 newer changes came after it`);
      continue;
    }
    const p = c.proxies;
    if (c.state === "DONE") {
      console.log(p.affected === 0 ? `${w.label} (generation ${c.generation}): no connected proxy is affected` : `${w.label} (generation ${c.generation}) reached ${p.held}/${p.affected} proxies${timing(c)}`);
      continue;
    }
    failed++;
    if (c.error) {
      console.error(`${w.label} (generation ${c.generation}): ${c.error}`);
      continue;
    }
    const reason = c.state === "PENDING" ? "not pushed yet" : `held by ${p.held}/${p.affected} proxies${timing(c)}`;
    console.error(`${w.label} (generation ${c.generation}): ${reason}${c.state === "FAILED" ? "" : ` after ${timeoutMs / 1000}s`}`);
    for (const n of c.nacked) console.error(`  NACKED by ${n.proxy}: ${n.error}`);
    for (const d of c.disconnected) console.error(`  ${d} disconnected before it ACKed`);
    if (p.waiting) console.error(`  no answer from ${p.waiting} prox${p.waiting === 1 ? "y" : "ies"}: ${c.waiting.join(", ")}${p.waiting > c.waiting.length ? ", ..." : ""}`);
  }
  return failed;
}
