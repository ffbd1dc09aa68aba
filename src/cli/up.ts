// `trellis up`: the control plane with its CA on Istio's ports, for `trellis run` workloads to join.
import { run as runControl } from "./control.js";

const USAGE = `usage: trellis up [--state-dir DIR]

Starts trellis control with the CA on 15012 (xDS on 15010, REST API on 15014) and prints where each listens.
Then start workloads with: trellis run --service NAME --port 9080 --ca 127.0.0.1:15012 [--upstream ...] -- CMD`;

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  return runControl(["--ca-port", "15012", ...args]);
}
