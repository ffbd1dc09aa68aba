// The Containerfile cannot be built here (no container runtime), so it is linted: parsed into instructions, every
// stage's FROM pinned by a version tag or digest (never latest), a non-root USER in the final stage, no ADD of a
// URL (unverified downloads), ENTRYPOINT in exec form (signals reach node, not a shell), and the files the chart's
// Deployment relies on copied in.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";

interface Instruction { op: string; args: string; line: number }

/** Instructions with continuation lines joined and comments dropped (the Dockerfile grammar the file uses). */
function parseContainerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending: Instruction | undefined;
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (!pending && (line === "" || line.startsWith("#"))) return;
    if (pending) pending.args += ` ${line.replace(/\\$/, "").trim()}`;
    else {
      const m = /^([A-Za-z]+)\s+(.*)$/.exec(line);
      assert.ok(m, `Containerfile:${i + 1}: "${line}" is not an instruction`);
      pending = { op: m[1].toUpperCase(), args: m[2].replace(/\\$/, "").trim(), line: i + 1 };
    }
    if (!line.endsWith("\\")) { out.push(pending); pending = undefined; }
  });
  assert.equal(pending, undefined, "Containerfile ends inside a continued line");
  return out;
}

const instructions = parseContainerfile(readFileSync("Containerfile", "utf8"));
const stages: Instruction[][] = [];
for (const ins of instructions) {
  if (ins.op === "FROM") stages.push([]);
  assert.ok(stages.length, `Containerfile:${ins.line}: ${ins.op} before the first FROM`);
  stages.at(-1)!.push(ins);
}
const final = stages.at(-1)!;

describe("Containerfile (linted: it cannot be built here)", () => {
  it("is multi-stage and says in its header that it cannot be built here", () => {
    assert.ok(stages.length >= 2, "a build stage and a runtime stage");
    assert.match(readFileSync("Containerfile", "utf8").split("\nFROM")[0], /cannot be built/i);
  });

  it("pins every FROM by a version tag or digest (node:20 slim), never latest", () => {
    const aliases = new Set<string>();
    for (const [from] of stages) {
      const [image, as, alias] = from.args.split(/\s+/);
      if (as?.toUpperCase() === "AS") aliases.add(alias);
      if (aliases.has(image)) continue;
      assert.match(image, /^[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/, `Containerfile:${from.line}: ${image} is not pinned`);
      assert.doesNotMatch(image, /:latest$/, `Containerfile:${from.line}: latest is not a pin`);
      assert.match(image, /^node:20\.\d+\.\d+-[\w-]*slim$/, `Containerfile:${from.line}: ${image} is not node:20.x.y-*-slim`);
    }
  });

  it("runs the final stage as a non-root USER", () => {
    const user = final.filter((i) => i.op === "USER").at(-1);
    assert.ok(user, "the final stage sets USER");
    assert.doesNotMatch(user.args, /^(root|0)(:|$)/, `Containerfile:${user.line}: USER ${user.args} is root`);
  });

  it("ADDs no URL and uses exec-form ENTRYPOINT", () => {
    for (const ins of instructions.filter((i) => i.op === "ADD")) assert.doesNotMatch(ins.args, /https?:\/\//, `Containerfile:${ins.line}: ADD of a URL`);
    const entry = final.filter((i) => i.op === "ENTRYPOINT").at(-1);
    assert.ok(entry, "the final stage has an ENTRYPOINT");
    const argv = JSON.parse(entry.args) as unknown;
    assert.ok(Array.isArray(argv) && argv.every((a) => typeof a === "string"), `Containerfile:${entry.line}: ENTRYPOINT must be a JSON array (exec form)`);
    assert.deepEqual(argv.slice(-1), ["/opt/trellis/dist/src/cli/main.js"]);
  });

  it("copies into the runtime stage what the CLI and the chart's Deployment need", () => {
    const copied = final.filter((i) => i.op === "COPY").map((i) => i.args);
    for (const path of ["/src/dist", "/src/node_modules", "/src/package.json", "/src/charts", "/src/manifests"]) {
      assert.ok(copied.some((c) => c.includes(`--from=build ${path} `)), `the runtime stage copies ${path}`);
    }
  });
});
