// How fast the CA signs: real CSRs over its gRPC API (TLS, bootstrap token), as sidecars send them, from 8
// concurrent connections in a separate process, against `trellis control` with the CA on; certificates per second
// and the control plane's CPU seconds per 1,000 certificates. No peer runs here (istiod needs Kubernetes).
import { startControl, NAMESPACE, SERVICE_ACCOUNT } from "../lib/control-plane.js";
import { cpuSeconds, rssMiB } from "../lib/processes.js";
import { DURATION_MS, ROUNDS } from "../lib/settings.js";
import { fmt, spread } from "../lib/stats.js";
import { runNode } from "./http1-latency.js";

const CONCURRENCY = 8;
const POOL = 32;

interface CsrLoad { completed: number; errors: number; firstError?: string; seconds: number; perSecond: number }

export async function cpCertsScenario(): Promise<unknown> {
  const control = await startControl();
  const samples: Array<{ perSecond: number; cpuPer1000: number; errors: number; rssMiB: number }> = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      let cpuBefore = NaN;
      const out = await runNode("dist/bench/lib/csr-load.js", {
        address: `127.0.0.1:${control.ports.ca}`, rootPem: control.rootPem, token: control.token, namespace: NAMESPACE, serviceAccount: SERVICE_ACCOUNT,
        concurrency: CONCURRENCY, durationMs: DURATION_MS, pool: POOL,
      }, () => { cpuBefore = cpuSeconds(control.pid); }) as CsrLoad;
      const cpu = cpuSeconds(control.pid) - cpuBefore;
      const s = { perSecond: out.perSecond, cpuPer1000: (cpu / Math.max(1, out.completed)) * 1000, errors: out.errors, rssMiB: rssMiB(control.pid) };
      samples.push(s);
      console.log(`  round ${round + 1}/${ROUNDS}: ${out.perSecond.toFixed(0)} certificates/s, CA CPU ${s.cpuPer1000.toFixed(2)} s per 1,000, errors ${out.errors}${out.firstError ? ` (${out.firstError})` : ""}, RSS ${s.rssMiB.toFixed(0)} MiB`);
    }
  } finally {
    await control.stop();
  }
  const summary = { perSecond: spread(samples.map((s) => s.perSecond)), cpuPer1000: spread(samples.map((s) => s.cpuPer1000)), rssMiB: spread(samples.map((s) => s.rssMiB)) };
  console.log(`\n  CA signing over gRPC (TLS, token), ${CONCURRENCY} connections, median (min–max) over ${ROUNDS} rounds of ${DURATION_MS} ms; no peer: istiod cannot run here`);
  console.log(`  ${"certificates/s".padEnd(22)} ${"CPU s / 1,000 certs".padEnd(22)} control RSS MiB`);
  console.log(`  ${fmt(summary.perSecond, 0).padEnd(22)} ${fmt(summary.cpuPer1000, 2).padEnd(22)} ${fmt(summary.rssMiB, 0)}`);
  // A mesh's steady load: 2,000 sidecars renewing 24-hour certificates at half-life is 4,000 per day.
  console.log(`  at this rate, 2,000 sidecars all asking at once are signed in ${(2000 / summary.perSecond.median).toFixed(1)} s`);
  return { rounds: ROUNDS, durationMs: DURATION_MS, concurrency: CONCURRENCY, csrPool: POOL, summary, samples };
}
