// Builds the package: generates Envoy's types, type-checks and compiles TypeScript to dist/, builds the console,
// marks the CLI executable.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
function run(args) {
  const result = spawnSync(process.execPath, args, { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
const generated = "src/xds/generated/ads.ts";
if (!existsSync(generated) || statSync(generated).mtimeMs < statSync("src/xds/proto-files.ts").mtimeMs) run(["scripts/gen-xds-types.mjs"]);
const schema = "src/api/generated/istio-schema.json";
if (!existsSync(schema) || !existsSync("src/api/generated/istio-annotations.json") || statSync(schema).mtimeMs < statSync("scripts/gen-istio-schema.mjs").mtimeMs) run(["scripts/gen-istio-schema.mjs"]);
run([require.resolve("typescript/bin/tsc"), "-p", "tsconfig.json"]);
run(["scripts/build-native.mjs"]);
// The console: type-checked on its own (browser libs, JSX), bundled by Vite into dist/console.
run([require.resolve("typescript/bin/tsc"), "-p", "src/console/web/tsconfig.json"]);
run(["node_modules/vite/bin/vite.js", "build", "--config", "src/console/web/vite.config.ts"]);
const bin = "dist/src/cli/main.js";
if (existsSync(bin)) chmodSync(bin, 0o755);
