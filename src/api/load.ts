// Reads files, directories and stdin of multi-document YAML or JSON into Istio resources that remember where each
// field came from, so every finding can name its file and line.
import { readdir, readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { type Document, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from "yaml";
import { type Finding, finding } from "./finding.js";
import { groupOf, KINDS, kindFor } from "./kinds.js";
import type { IstioResource } from "./resource.js";

export interface Origin {
  file: string;
  line: number;
  /** Line of a field path ("spec.http[0].route"), or of its nearest existing parent; undefined when unknown. */
  lineOf(path: string): number | undefined;
}

export interface LoadedResource extends IstioResource {
  origin?: Origin;
}

/** Where each non-Istio object of a load came from, so findings about Services, Pods... name a file and line too. */
export const otherOrigins = new WeakMap<object, Origin>();

export interface LoadResult {
  resources: LoadedResource[];
  /** Non-Istio Kubernetes objects (Service, Deployment, Pod...), kept as context for cross-resource checks. */
  others: Array<Record<string, unknown>>;
  findings: Finding[];
}

/** "spec.http[0].route" -> ["spec", "http", 0, "route"]. */
export function splitPath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    if (m[1]) out.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

function nodeAt(root: YamlNode | null | undefined, path: Array<string | number>): { node?: YamlNode; keyNode?: YamlNode } {
  let cur: unknown = root;
  let keyNode: YamlNode | undefined;
  let last: YamlNode | undefined = root ?? undefined;
  for (const seg of path) {
    if (isMap(cur)) {
      const pair = cur.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) return { node: last, keyNode };
      keyNode = pair.key as YamlNode;
      cur = pair.value;
    } else if (isSeq(cur) && typeof seg === "number") {
      cur = cur.items[seg];
      keyNode = undefined;
    } else {
      return { node: last, keyNode };
    }
    if (cur && typeof cur === "object" && "range" in (cur as object)) last = cur as YamlNode;
  }
  return { node: cur as YamlNode, keyNode };
}

function makeOrigin(file: string, root: YamlNode | null | undefined, lines: LineCounter): Origin {
  const lineAt = (offset: number | undefined) => (offset === undefined ? undefined : lines.linePos(offset).line);
  const start = lineAt((root as YamlNode | undefined)?.range?.[0]) ?? 1;
  return {
    file,
    line: start,
    lineOf(path: string) {
      const { node, keyNode } = nodeAt(root, splitPath(path));
      return lineAt(keyNode?.range?.[0] ?? node?.range?.[0]);
    },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** What to use instead of the kinds users reach for that Trellis does not serve. */
const INSTEAD: Record<string, string> = {
  EnvoyFilter: "Trellis's proxy is not Envoy and applies no Envoy config patches. Use VirtualService for headers, rewrites, retries, timeouts and faults; DestinationRule for connection pools, outlier detection and TLS; AuthorizationPolicy with action CUSTOM and a mesh config envoyExtAuthzHttp provider for external authorization; RequestAuthentication for JWT; MeshConfig accessLogFile for access logs",
  WasmPlugin: "Trellis's proxy runs no Wasm. Use AuthorizationPolicy with action CUSTOM and a mesh config envoyExtAuthzHttp provider to call your own authorization service, VirtualService headers to add or remove headers, RequestAuthentication for JWT",
  TrafficExtension: "Trellis's proxy runs no Wasm or Lua extensions. Use AuthorizationPolicy with action CUSTOM (external authorization) or VirtualService headers",
  ProxyConfig: "per-workload proxy settings are flags of trellis run and trellis proxy; mesh-wide ones go in MeshConfig (trellis control --mesh-config)",
  UDPRoute: "Trellis's proxy carries no UDP; use a TCPRoute or a VirtualService tcp route for TCP traffic",
};

/** Groups whose kinds Trellis validates or must name as unsupported: Istio's and the Gateway API's (standard and experimental). */
function managedGroup(apiVersion: string): boolean {
  const group = groupOf(apiVersion);
  return group.endsWith(".istio.io") || group === "gateway.networking.k8s.io" || group === "gateway.networking.x-k8s.io";
}

function classify(obj: unknown, file: string, line: number, origin: Origin, out: LoadResult, where: string): void {
  const source = { file, line };
  if (!isObject(obj)) {
    out.findings.push(finding("TRL0002", `${where} is ${Array.isArray(obj) ? "a list" : typeof obj} where a Kubernetes object (apiVersion, kind, metadata, spec) was expected`, { source }));
    return;
  }
  if (obj.kind === "List" && Array.isArray(obj.items)) {
    obj.items.forEach((item, i) => {
      const itemOrigin: Origin = { file, line: origin.lineOf(`items[${i}]`) ?? line, lineOf: (p) => origin.lineOf(`items[${i}].${p}`) };
      classify(item, file, itemOrigin.line, itemOrigin, out, `${where} items[${i}]`);
    });
    return;
  }
  const { apiVersion, kind } = obj;
  const metadata = obj.metadata;
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    out.findings.push(finding("TRL0002", `${where} has no ${typeof apiVersion !== "string" ? "apiVersion" : "kind"}; every resource needs apiVersion and kind (e.g. apiVersion: networking.istio.io/v1, kind: VirtualService)`, { source }));
    return;
  }
  if (!managedGroup(apiVersion)) {
    otherOrigins.set(obj, origin);
    out.others.push(obj);
    return;
  }
  const name = isObject(metadata) ? metadata.name : undefined;
  const namespace = isObject(metadata) && typeof metadata.namespace === "string" ? metadata.namespace : "default";
  const resource = { kind, namespace, name: typeof name === "string" ? name : "" };
  if (!isObject(metadata) || typeof name !== "string" || name === "") {
    out.findings.push(finding("TRL0002", `${kind} has no metadata.name; give the resource a name`, { resource, path: "metadata.name", source: { file, line: origin.lineOf("metadata") ?? line } }));
    return;
  }
  const info = kindFor(apiVersion, kind);
  if (!info) {
    const known = KINDS.find((k) => k.kind === kind && apiVersion.startsWith(k.group + "/"));
    if (known) {
      out.findings.push(finding("TRL0003", `${kind} is not served at ${apiVersion}; use ${known.group}/${known.versions[0]} (served: ${known.versions.join(", ")})`, { resource, path: "apiVersion", source: { file, line: origin.lineOf("apiVersion") ?? line } }));
    } else {
      const instead = INSTEAD[kind] ? `; ${INSTEAD[kind]}` : ` (supported: ${KINDS.map((k) => `${k.kind} (${k.group})`).join(", ")})`;
      out.findings.push(finding("TRL0004", `${apiVersion} ${kind} is not a kind Trellis validates or applies; it was skipped${instead}`, { resource, path: "kind", source: { file, line: origin.lineOf("kind") ?? line } }));
    }
    return;
  }
  // A cluster-scoped kind (GatewayClass) has no namespace, whatever the document says, as the API server has it.
  const meta: IstioResource["metadata"] = { ...(metadata as unknown as IstioResource["metadata"]), namespace };
  if (!info.namespaced) delete meta.namespace;
  out.resources.push({ ...(obj as unknown as IstioResource), metadata: meta, origin });
}

/** Parses one text of multi-document YAML or JSON. Nothing throws: problems become findings. */
export function parseDocuments(text: string, file: string): LoadResult {
  const out: LoadResult = { resources: [], others: [], findings: [] };
  const lines = new LineCounter();
  let docs: Document[];
  try {
    docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false }) as Document[];
  } catch (err) {
    out.findings.push(finding("TRL0001", `cannot parse: ${(err as Error).message}`, { source: { file, line: 1 } }));
    return out;
  }
  if (!Array.isArray(docs)) return out;
  docs.forEach((doc, i) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const line = e.linePos?.[0]?.line ?? lines.linePos(e.pos[0]).line;
        out.findings.push(finding("TRL0001", `YAML syntax error: ${e.message.split("\n")[0]}; fix the document and analyse again`, { source: { file, line } }));
      }
      return;
    }
    const root = doc.contents as YamlNode | null;
    const value = doc.toJS({ maxAliasCount: 100 });
    // An empty document (a trailing "---", only comments) is nothing, as kubectl reads it.
    if (root === null || root === undefined || value === null || value === undefined) return;
    const origin = makeOrigin(file, root, lines);
    const where = docs.length > 1 ? `document ${i + 1}` : "the document";
    if (Array.isArray(value)) {
      value.forEach((item, j) => {
        const itemOrigin: Origin = { file, line: origin.lineOf(`[${j}]`) ?? origin.line, lineOf: (p) => origin.lineOf(`[${j}].${p}`) };
        classify(item, file, itemOrigin.line, itemOrigin, out, `${where} item ${j + 1}`);
      });
    } else {
      classify(value, file, origin.line, origin, out, where);
    }
  });
  return out;
}

const EXTENSIONS = new Set([".yaml", ".yml", ".json"]);

async function collectFiles(path: string): Promise<string[]> {
  const info = await stat(path);
  if (!info.isDirectory()) return [path];
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const out: string[] = [];
  for (const e of entries) {
    const full = join(path, e.name);
    if (e.isDirectory()) out.push(...(await collectFiles(full)));
    else if (EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(full);
  }
  return out;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** Reads files and directories (recursively: .yaml, .yml, .json) or "-" for stdin. Unreadable paths throw. */
export async function loadPaths(paths: string[]): Promise<LoadResult> {
  const out: LoadResult = { resources: [], others: [], findings: [] };
  for (const p of paths) {
    const files = p === "-" ? ["-"] : await collectFiles(p);
    // Read every file of the path at once (parsing stays in order), so a large folder does not wait on each read.
    const texts = await Promise.all(files.map((f) => (f === "-" ? readStdin() : readFile(f, "utf8"))));
    for (const [i, f] of files.entries()) {
      const one = parseDocuments(texts[i], f === "-" ? "<stdin>" : f);
      out.resources.push(...one.resources);
      out.others.push(...one.others);
      out.findings.push(...one.findings);
    }
  }
  return out;
}
