// Compiles the small native addon that reads SO_ORIGINAL_DST (transparent interception). Optional: without a C
// compiler or Node's headers the build goes on, and `--transparent` explains what is missing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

const source = "src/native/original-dst.c";
const output = "dist/native/original_dst.node";
if (process.platform !== "linux") process.exit(0);
if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) process.exit(0);
const prefix = process.config.variables.node_prefix ?? "/usr";
const include = [join(prefix, "include", "node"), "/usr/include/node", "/usr/local/include/node"].find((d) => existsSync(join(d, "node_api.h")));
if (!include) {
  console.warn("build-native: Node's headers (node_api.h) were not found; transparent mode will be unavailable");
  process.exit(0);
}
mkdirSync("dist/native", { recursive: true });
const cc = process.env.CC ?? "cc";
const r = spawnSync(cc, ["-O2", "-shared", "-fPIC", "-Wall", "-DNODE_GYP_MODULE_NAME=original_dst", `-I${include}`, source, "-o", output], { stdio: "inherit" });
if (r.error || r.status !== 0) console.warn(`build-native: ${cc} failed (${r.error?.message ?? `exit ${r.status}`}); transparent mode will be unavailable`);
