// `trellis get KIND [NAME] [-n NS] [-A] [-o yaml|json]`: reads resources from the control plane.
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { call, controlAddress, kindOrExit, resourcePath } from "./rest-client.js";

const USAGE = "usage: trellis get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json] [--control HOST:PORT]";

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { namespace: { type: "string", short: "n" }, "all-namespaces": { type: "boolean", short: "A" }, output: { type: "string", short: "o" }, control: { type: "string" }, help: { type: "boolean", short: "h" } } });
    if (parsed.values.help) { console.log(USAGE); return 0; }
    if (parsed.positionals.length < 1 || parsed.positionals.length > 2) throw new Error("give KIND and optionally NAME");
    if (parsed.values.output && !["yaml", "json"].includes(parsed.values.output)) throw new Error(`-o "${parsed.values.output}" is not a format; use yaml or json`);
  } catch (err) {
    console.error(`trellis get: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  try {
    const info = kindOrExit(positionals[0]);
    const ns = values["all-namespaces"] ? undefined : values.namespace ?? "default";
    const res = await call(controlAddress(values.control), "GET", resourcePath(info, ns, positionals[1]));
    if (res.status !== 200) {
      console.error(`Error from server (${res.body.reason ?? res.status}): ${res.body.message}`);
      return 1;
    }
    if (values.output === "json") console.log(JSON.stringify(res.body, null, 2));
    else if (values.output === "yaml") console.log(stringify(res.body).trimEnd());
    else {
      type Item = { metadata: { name: string; namespace: string; creationTimestamp?: string } };
      const items = (positionals[1] ? [res.body] : res.body.items) as Item[];
      if (!items.length) { console.log(`No resources found${ns ? ` in ${ns} namespace` : ""}.`); return 0; }
      console.log(`${values["all-namespaces"] ? "NAMESPACE".padEnd(20) : ""}${"NAME".padEnd(30)}AGE`);
      for (const i of items) {
        const age = i.metadata.creationTimestamp ? `${Math.max(0, Math.round((Date.now() - Date.parse(i.metadata.creationTimestamp)) / 1000))}s` : "-";
        console.log(`${values["all-namespaces"] ? i.metadata.namespace.padEnd(20) : ""}${i.metadata.name.padEnd(30)}${age}`);
      }
    }
    return 0;
  } catch (err) {
    console.error(`trellis get: ${(err as Error).message}`);
    return 1;
  }
}
