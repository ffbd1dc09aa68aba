// The namespace side of a port bridge, run inside a workload's network namespace by `trellis run --transparent`:
// argv[2] is a JSON list of {from, to} endpoint pairs. It prints "ready" once every pair listens, and exits with its
// parent's stdin (so it never outlives the run that started it).
import { forward, type Endpoint } from "./port-bridge.js";

const pairs = JSON.parse(process.argv[2] ?? "[]") as Array<{ from: Endpoint; to: Endpoint }>;
try {
  for (const p of pairs) await forward(p.from, p.to);
  process.stdout.write("ready\n");
} catch (err) {
  process.stderr.write(`trellis port bridge: ${(err as Error).message}\n`);
  process.exit(1);
}
process.stdin.resume();
process.stdin.once("end", () => process.exit(0));
process.stdin.once("close", () => process.exit(0));
