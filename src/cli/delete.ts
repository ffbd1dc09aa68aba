// `trellis delete -f PATH | KIND NAME [-n NS]`: deletes resources through the control plane.
import { parseArgs } from "node:util";
import { kindFor } from "../api/kinds.js";
import { loadPaths } from "../api/load.js";
import { call, controlAddress, kindOrExit, resourcePath } from "./rest-client.js";

const USAGE = "usage: trellis delete -f PATH [-f PATH ...] | trellis delete KIND NAME [-n NAMESPACE] [--control HOST:PORT]";

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { filename: { type: "string", short: "f", multiple: true }, namespace: { type: "string", short: "n" }, control: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (parsed.values.help) { console.log(USAGE); return 0; }
    if (!parsed.values.filename && parsed.positionals.length !== 2) throw new Error("give -f PATH, or KIND and NAME");
  } catch (err) {
    console.error(`trellis delete: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const base = controlAddress(values.control);
  try {
    const targets = values.filename
      ? (await loadPaths(values.filename)).resources.map((r) => ({ info: kindFor(r.apiVersion, r.kind)!, ns: r.metadata.namespace ?? "default", name: r.metadata.name }))
      : [{ info: kindOrExit(positionals[0]), ns: values.namespace ?? "default", name: positionals[1] }];
    let failed = 0;
    for (const t of targets) {
      const res = await call(base, "DELETE", resourcePath(t.info, t.ns, t.name));
      if (res.status === 200) console.log(`${t.info.kind.toLowerCase()}.${t.info.group} "${t.name}" deleted`);
      else {
        failed++;
        console.error(`Error from server (${res.body.reason ?? res.status}): ${res.body.message}`);
      }
    }
    return failed ? 1 : 0;
  } catch (err) {
    console.error(`trellis delete: ${(err as Error).message}`);
    return 1;
  }
}
