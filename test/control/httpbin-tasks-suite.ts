// Istio's httpbin-based traffic tasks with their YAML applied through `trellis apply`: circuit breaking (the
// overflowing requests get 503 with the UO flag), mirroring (v1 answers, v2 gets a copy of each request marked
// -shadow), and retries with per-try timeouts (a failed and a stalled first attempt both end in 200). The same
// tasks run against two meshes: explicit mode (sidecars in this process) and transparent mode (`trellis run
// --transparent` processes, as root).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { after, before, test as nodeTest } from "node:test";

const execFileP = promisify(execFile);

export interface Call {
  status: number;
  body: string;
  overloaded: boolean;
}

/** One mesh with httpbin v1 and v2 (service httpbin:8000) and a caller whose sidecar's admin is `clientAdmin`. */
export interface TaskMesh {
  api: number;
  clientAdmin: number;
  /** `n` concurrent GETs of `path` on httpbin from the caller, through its sidecar. */
  call(path: string, n?: number): Promise<Call[]>;
  /** What an httpbin instance received. */
  seen(version: "v1" | "v2"): Promise<Array<{ path: string; host: string }>>;
  stop(): Promise<void>;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function httpbinTasks(start: () => Promise<TaskMesh>, skip: string | false = false): void {
  let mesh: TaskMesh;
  const test = (name: string, fn: () => Promise<void>) => nodeTest(name, { skip }, fn);
  const cli = (...args: string[]) => execFileP(process.execPath, ["dist/src/cli/main.js", ...args, "--control", `127.0.0.1:${mesh.api}`], { timeout: 20_000 });
  const apply = (file: string) => cli("apply", "-f", file);
  const remove = (kind: string, name: string) => cli("delete", kind, name).catch(() => undefined);
  const get = async (path: string) => (await mesh.call(path))[0];
  const version = (c: Call) => (JSON.parse(c.body) as { version?: string }).version;

  before(async () => {
    if (skip) return;
    mesh = await start();
    await until("the mesh to reach httpbin", async () => (await get("/get")).status === 200, 30_000);
  });
  after(async () => { await mesh?.stop(); });

  test("circuit breaking: with one connection and one pending request, concurrent callers overflow with 503 UO", async () => {
    await apply("examples/istio/tasks/circuit-breaking/destination-rule-httpbin.yaml");
    try {
      // As the task's fortio run: concurrent requests against a pool of one connection and one waiting request.
      let results: Call[] = [];
      await until("the breaker to trip", async () => {
        results = await mesh.call("/delay/100/get", 20);
        return results.some((r) => r.status === 503);
      });
      const overflow = results.filter((r) => r.status === 503);
      assert.ok(results.some((r) => r.status === 200), "some requests get through");
      assert.ok(overflow.every((r) => r.overloaded), `the rest are refused by the breaker, marked x-envoy-overloaded: ${JSON.stringify(overflow.filter((r) => !r.overloaded))}`);
      const stats = await (await fetch(`http://127.0.0.1:${mesh.clientAdmin}/stats`)).text();
      assert.match(stats, /cluster\.outbound\|8000\|\|httpbin\.default\.svc\.cluster\.local\.upstream_rq_pending_overflow: [1-9]/);
      const metrics = await (await fetch(`http://127.0.0.1:${mesh.clientAdmin}/stats/prometheus`)).text();
      assert.match(metrics, /istio_requests_total\{reporter="source",[^}]*destination_service="httpbin\.default\.svc\.cluster\.local",[^}]*response_code="503",[^}]*response_flags="UO"/);
    } finally {
      await remove("destinationrule", "httpbin");
    }
    await until("the breaker to be gone", async () => (await mesh.call("/get", 10)).every((r) => r.status === 200));
  });

  test("mirroring: v1 answers every request, v2 gets a copy with the -shadow host", async () => {
    await apply("examples/istio/tasks/mirroring/destination-rule-httpbin.yaml");
    await apply("examples/istio/tasks/mirroring/httpbin-all-v1.yaml");
    await until("everything on v1", async () => (await mesh.call("/headers", 6)).every((r) => version(r) === "v1"));
    await apply("examples/istio/tasks/mirroring/httpbin-mirror-v2.yaml");
    const tag = `/mirrored/${Date.now()}`;
    await until("v2 to receive mirrored requests", async () => {
      assert.equal(version(await get(`${tag}/probe`)), "v1", "the answer always comes from v1");
      return (await mesh.seen("v2")).some((s) => s.path === `${tag}/probe`);
    });
    for (let i = 0; i < 10; i++) assert.equal(version(await get(`${tag}/${i}`)), "v1");
    await until("each request to reach v2 as a copy", async () => (await mesh.seen("v2")).filter((s) => /\/\d+$/.test(s.path) && s.path.startsWith(tag)).length === 10);
    const copies = (await mesh.seen("v2")).filter((s) => s.path.startsWith(tag));
    // Envoy appends -shadow to the host the app called (httpbin:8000, or 127.0.0.1:PORT for explicit mode's local port).
    assert.ok(copies.every((s) => /-shadow(:\d+)?$/.test(s.host)), JSON.stringify(copies.slice(0, 3)));
    assert.equal((await mesh.seen("v1")).filter((s) => s.path.startsWith(tag) && /\/\d+$/.test(s.path)).length, 10);
    await remove("virtualservice", "httpbin");
    await remove("destinationrule", "httpbin");
  });

  test("retries with per-try timeouts: a 503 and a stalled attempt are retried into a 200", async () => {
    await apply("examples/istio/tasks/retries/httpbin-retries.yaml");
    try {
      const run = Date.now();
      await until("the retry policy to reach the caller's sidecar", async () => (await (await fetch(`http://127.0.0.1:${mesh.clientAdmin}/config_dump?resource=dynamic_route_configs`)).text()).includes("per_try_timeout"));
      for (let i = 0; i < 5; i++) assert.equal((await get(`/fail-once/${run}/${i}`)).status, 200, "a 503 is retried");
      const started = Date.now();
      const stalled = await get(`/stall-once/${run}`);
      const took = Date.now() - started;
      assert.equal(stalled.status, 200, "the stalled attempt is cut at perTryTimeout and retried");
      assert.ok(took >= 1900 && took < 9000, `answered after a 2 s per-try timeout, not the 10 s stall (${took} ms)`);
      const stats = await (await fetch(`http://127.0.0.1:${mesh.clientAdmin}/stats`)).text();
      assert.match(stats, /cluster\.outbound\|8000\|\|httpbin\.default\.svc\.cluster\.local\.upstream_rq_retry: [1-9]/);
      assert.match(stats, /upstream_rq_per_try_timeout: [1-9]/);
    } finally {
      await remove("virtualservice", "httpbin");
    }
  });
}
