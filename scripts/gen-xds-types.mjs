// Generates TypeScript types for Envoy's messages from the .proto files (decoded-object shapes match CANONICAL in src/xds/resource.ts).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const out = "src/xds/generated";
const deps = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
const entries = readFileSync("src/xds/proto-files.ts", "utf8").match(/"envoy\/[^"]+\.proto"|"(udpa|xds)\/[^"]+\.proto"/g).map((s) => s.slice(1, -1));
const gen = join(dirname(require.resolve("@grpc/proto-loader/package.json")), "build/bin/proto-loader-gen-types.js");

rmSync(out, { recursive: true, force: true });
const args = [gen, "--keepCase", "--longs=Number", "--enums=String", "--defaults", "--oneofs", "--grpcLib=@grpc/grpc-js",
  "--includeDirs", ...["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d)), "-O", out, ...entries];
const result = spawnSync(process.execPath, args, { stdio: "inherit" });
if (result.status !== 0) process.exit(result.status ?? 1);

// NodeNext resolution wants explicit extensions on relative imports.
function fix(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) fix(path);
    else if (name.endsWith(".ts")) {
      const text = readFileSync(path, "utf8").replace(/from '(\.{1,2}\/[^']+)'/g, "from '$1.js'");
      writeFileSync(path, text);
    }
  }
}
fix(out);
