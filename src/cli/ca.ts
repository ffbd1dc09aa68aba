// `trellis ca status | rotate-root start | rotate-root finish [--force]`: the mesh CA's roots and their rotation.
import { parseArgs } from "node:util";
import { call, controlAddress } from "./rest-client.js";

const USAGE = `usage: trellis ca status [--control HOST:PORT]
       trellis ca rotate-root start|finish [--force] [--control HOST:PORT]

status shows the trust bundle's roots (the signing one first). rotate-root start makes a new root that signs from
now on while the bundle, pushed to every proxy, trusts both; proxies then renew their certificates from the new root
on their own, without dropping a connection. rotate-root finish drops the old root once every connected proxy holds
a certificate from the new one (it says which do not); --force drops it anyway. Check a proxy with
\`trellis proxy-config secrets PROXY\` (its ROOT column).`;

interface CaState { mode: string; trustDomain: string; rotating: boolean; roots: Array<{ sha256: string; notAfter: string; signing: boolean }> }

function print(state: CaState): void {
  console.log(`CA: ${state.mode}, trust domain ${state.trustDomain}${state.rotating ? ", root rotation under way" : ""}`);
  for (const r of state.roots) console.log(`  ${r.signing ? "signing" : "trusted"}  ${r.sha256}  not after ${r.notAfter}`);
}

export async function run(args: string[]): Promise<number> {
  let values: { force?: boolean; control?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args, allowPositionals: true, options: { force: { type: "boolean" }, control: { type: "string" }, help: { type: "boolean", short: "h" } } }));
    if (values.help) { console.log(USAGE); return 0; }
    const ok = (positionals.length === 1 && positionals[0] === "status") || (positionals.length === 2 && positionals[0] === "rotate-root" && ["start", "finish"].includes(positionals[1]));
    if (!ok) throw new Error(`"${positionals.join(" ")}" is not a ca command: give status, rotate-root start or rotate-root finish`);
    if (values.force && positionals[1] !== "finish") throw new Error("--force is for rotate-root finish");
  } catch (err) {
    console.error(`trellis ca: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const base = controlAddress(values.control);
    const res = positionals[0] === "status"
      ? await call(base, "GET", "/api/v1/ca")
      : await call(base, "POST", "/api/v1/ca/root-rotation", { action: positionals[1], ...(values.force ? { force: true } : {}) });
    if (res.status !== 200) {
      console.error(`trellis ca: ${String(res.body.message ?? `the control plane answered ${res.status}`)}`);
      return 1;
    }
    print(res.body as unknown as CaState);
    return 0;
  } catch (err) {
    console.error(`trellis ca: ${(err as Error).message}`);
    return 1;
  }
}
