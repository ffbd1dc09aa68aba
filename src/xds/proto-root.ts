// Loads Envoy's v3 API into one protobufjs Root, once per process, with proto field names kept (snake_case).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import protobuf from "protobufjs";
import { PROTO_ENTRY_FILES, PROTO_INCLUDE_DIRS } from "./proto-files.js";

const require = createRequire(import.meta.url);
const protobufjsRoot = dirname(require.resolve("protobufjs/package.json"));

let cached: protobuf.Root | undefined;

function resolveImport(origin: string, target: string): string {
  if (existsSync(target)) return target;
  for (const dir of PROTO_INCLUDE_DIRS) {
    const candidate = join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  // google/protobuf/*.proto ship with protobufjs itself.
  const bundled = join(protobufjsRoot, target);
  if (existsSync(bundled)) return bundled;
  return protobuf.util.path.resolve(origin, target);
}

/** The Root holding every Envoy type Trellis uses. Loading takes a second; it happens once. */
export function envoyRoot(): protobuf.Root {
  if (cached) return cached;
  const root = new protobuf.Root();
  root.resolvePath = resolveImport;
  root.loadSync(PROTO_ENTRY_FILES, { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}

/** Finds a message type by its full name (`envoy.config.listener.v3.Listener`), or undefined. */
export function lookupMessage(fullName: string): protobuf.Type | undefined {
  try {
    return envoyRoot().lookupType(fullName.startsWith(".") ? fullName.slice(1) : fullName);
  } catch {
    return undefined;
  }
}
