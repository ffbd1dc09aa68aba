// `trellis proxy` as a process: config errors name the field and exit non-zero; SIGTERM drains in-flight requests.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { backend, get } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-proxy-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function bootstrapYaml(backendPort: number, listenPort: number, typo = false): string {
  return `admin:
  address: {socket_address: {address: 127.0.0.1, port_value: 0}}
static_resources:
  listeners:
  - name: l
    address: {socket_address: {address: 127.0.0.1, port_value: ${listenPort}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress
          route_config:
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: backend}}]}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
  clusters:
  - name: backend
    ${typo ? "conect_timeout" : "connect_timeout"}: 1s
    type: STATIC
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: ${backendPort}}}}}]}]
`;
}

test("a bootstrap with a mistake is refused with the field path and a suggestion; bad flags exit 2", () => {
  const file = join(dir, "bad.yaml");
  writeFileSync(file, bootstrapYaml(1, 0, true));
  const r = spawnSync(process.execPath, ["dist/src/cli/main.js", "proxy", "--bootstrap", file], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /static_resources\.clusters\[0\]\.conect_timeout: unknown field "conect_timeout" in envoy\.config\.cluster\.v3\.Cluster; did you mean "connect_timeout"\?/);
  assert.equal(spawnSync(process.execPath, ["dist/src/cli/main.js", "proxy"], { encoding: "utf8" }).status, 2);
  assert.equal(spawnSync(process.execPath, ["dist/src/cli/main.js", "proxy", "--bootstrap", file, "--admin-port", "99999"], { encoding: "utf8" }).status, 2);
});

test("SIGTERM stops accepting but lets the request in flight finish, then the process exits 0", async () => {
  const slow = await backend((_q, s) => setTimeout(() => s.end("finished"), 700));
  after(() => slow.close());
  const listenPort = 20000 + Math.floor(Math.random() * 10000);
  const file = join(dir, "good.yaml");
  writeFileSync(file, bootstrapYaml(slow.port, listenPort));
  const child = spawn(process.execPath, ["dist/src/cli/main.js", "proxy", "--bootstrap", file, "--drain-timeout", "3"], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const deadline = Date.now() + 10_000;
  while (!err.includes("listeners:") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const inFlight = get(`http://127.0.0.1:${listenPort}/slow`);
  await new Promise((r) => setTimeout(r, 200));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.equal(res.text, "finished");
  assert.equal(await exited, 0);
  await assert.rejects(get(`http://127.0.0.1:${listenPort}/after`), "no longer accepting");
});
