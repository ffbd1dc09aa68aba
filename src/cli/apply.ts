// `trellis apply -f PATH`: creates or replaces Istio resources through the control plane's REST API.
import { parseArgs } from "node:util";
import { kindFor } from "../api/kinds.js";
import { loadPaths } from "../api/load.js";
import { call, controlAddress, resourcePath } from "./rest-client.js";

const USAGE = "usage: trellis apply -f PATH [-f PATH ...] [--control HOST:PORT]\n\nPATH is a YAML/JSON file, a directory, or - for stdin.";

export async function run(args: string[]): Promise<number> {
  let files: string[];
  let base: string;
  try {
    const { values } = parseArgs({ args, options: { filename: { type: "string", short: "f", multiple: true }, control: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (values.help) { console.log(USAGE); return 0; }
    files = values.filename ?? [];
    if (!files.length) throw new Error("give at least one -f PATH");
    base = controlAddress(values.control);
  } catch (err) {
    console.error(`trellis apply: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  let loaded;
  try {
    loaded = await loadPaths(files);
  } catch (err) {
    console.error(`trellis apply: ${(err as Error).message}`);
    return 2;
  }
  for (const f of loaded.findings) console.error(`${f.level} [${f.code}]${f.source ? ` ${f.source.file}:${f.source.line}` : ""}: ${f.message}`);
  if (loaded.findings.some((f) => f.level === "Error")) return 1;
  let failed = 0;
  try {
    for (const r of loaded.resources) {
      const info = kindFor(r.apiVersion, r.kind)!;
      const ns = r.metadata.namespace ?? "default";
      const { origin: _origin, ...body } = r;
      const existing = await call(base, "GET", resourcePath(info, ns, r.metadata.name));
      const res = existing.status === 200
        ? await call(base, "PUT", resourcePath(info, ns, r.metadata.name), { ...body, metadata: { ...body.metadata, resourceVersion: (existing.body.metadata as { resourceVersion?: string }).resourceVersion } })
        : await call(base, "POST", resourcePath(info, ns), body);
      const label = `${info.kind.toLowerCase()}.${info.group}/${r.metadata.name}`;
      if (res.status === 200 || res.status === 201) {
        console.log(`${label} ${res.status === 201 ? "created" : "configured"}`);
        for (const w of (res.body.warnings as Array<{ code: string; message: string }> | undefined) ?? []) console.error(`Warning [${w.code}]: ${w.message}`);
      } else {
        failed++;
        console.error(`Error from server (${res.body.reason ?? res.status}): ${res.body.message}`);
      }
    }
  } catch (err) {
    console.error(`trellis apply: ${(err as Error).message}`);
    return 1;
  }
  return failed ? 1 : 0;
}
