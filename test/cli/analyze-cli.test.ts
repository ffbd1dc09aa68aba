// `trellis analyze` as a user runs it: exit codes, the three output formats, directories and stdin.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";

const cli = (args: string[], input?: string) => spawnSync(process.execPath, ["dist/src/cli/main.js", "analyze", ...args], { encoding: "utf8", input });

test("Bookinfo's configuration, written as Istio's docs write it, has no errors (exit 0)", () => {
  const r = cli(["-f", "examples/istio/bookinfo"]);
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /No validation issues/);
});

// The httpbin tasks' files are steps applied one after another (the mirroring task replaces its VirtualService),
// against httpbin rather than Bookinfo.
const HTTPBIN_TASKS = new Set(["circuit-breaking", "mirroring", "retries"]);

test("each of Istio's task configurations analyses clean against Bookinfo", () => {
  for (const task of readdirSync("examples/istio/tasks").filter((t) => !HTTPBIN_TASKS.has(t))) {
    const r = cli(["-f", "examples/istio/bookinfo/platform.yaml", "-f", "examples/istio/bookinfo/destination-rule-all.yaml", "-f", `examples/istio/tasks/${task}`]);
    assert.equal(r.status, 0, `${task}: ${r.stdout}${r.stderr}`);
  }
});

test("each step of Istio's httpbin tasks analyses clean against httpbin", () => {
  for (const task of HTTPBIN_TASKS) {
    for (const step of readdirSync(`examples/istio/tasks/${task}`)) {
      // The mirroring task's routes use the subsets of its DestinationRule.
      const subsets = task === "mirroring" && step.startsWith("httpbin-") ? ["-f", "examples/istio/tasks/mirroring/destination-rule-httpbin.yaml"] : [];
      const r = cli(["-f", "examples/istio/httpbin/platform.yaml", ...subsets, "-f", `examples/istio/tasks/${task}/${step}`]);
      assert.equal(r.status, 0, `${task}/${step}: ${r.stdout}${r.stderr}`);
    }
  }
});

test("errors exit 1 and print code, resource, path and file:line", () => {
  const r = cli(["-f", "examples/istio/broken/typos.yaml"]);
  assert.equal(r.status, 1);
  assert.match(r.stdout, /Error \[TRL0014 IST0106\] \(VirtualService default\/reviews spec\.http\[0\]\.timeout\) examples\/istio\/broken\/typos\.yaml:14: /);
  assert.match(r.stdout, /Error \[TRL0010 IST0106\] .*did you mean "retries"/);
});

test("-o json prints the findings array with the documented shape", () => {
  const r = cli(["-f", "examples/istio/broken/typos.yaml", "-o", "json"]);
  assert.equal(r.status, 1);
  const findings = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  const f = findings.find((x) => x.code === "TRL0014")!;
  assert.deepEqual(Object.keys(f).sort(), ["code", "ist", "level", "message", "path", "resource", "source"]);
  assert.equal(f.ist, "IST0106", "istioctl analyze's code for the same finding");
  assert.deepEqual(f.resource, { kind: "VirtualService", namespace: "default", name: "reviews" });
  assert.deepEqual(f.source, { file: "examples/istio/broken/typos.yaml", line: 14 });
});

test("-o yaml prints the same findings as YAML", () => {
  const r = cli(["-f", "examples/istio/broken/typos.yaml", "-o", "yaml"]);
  assert.equal(r.status, 1);
  const findings = parse(r.stdout) as Array<{ code: string }>;
  assert.ok(findings.some((f) => f.code === "TRL0010"));
});

test("- reads stdin; warnings alone exit 0", () => {
  const yaml = "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: x}\nspec: {}\n";
  const r = cli(["-f", "-"], yaml);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Warning \[TRL0004\].*<stdin>:2/);
});

test("unreadable input and unparsable YAML exit 2; so do bad flags", () => {
  assert.equal(cli(["-f", "no/such/file.yaml"]).status, 2);
  const broken = cli(["-f", "-"], "a: [1, 2\n");
  assert.equal(broken.status, 2);
  assert.match(broken.stdout, /TRL0001/);
  const badFlag = cli(["-f", "x", "-o", "xml"]);
  assert.equal(badFlag.status, 2);
  assert.match(badFlag.stderr, /-o "xml" is not a format/);
  assert.equal(cli([]).status, 2);
});
