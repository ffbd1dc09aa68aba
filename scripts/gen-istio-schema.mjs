// Derives a field tree (unknown fields, types, enums) for every kind Trellis validates, from the projects' own schemas:
// Istio's kinds from the CRDs of istio.io/api at ISTIO_API_VERSION (the Go module, fetched and checksummed by `go mod
// download` into Go's module cache), the Gateway API's from @kubernetes-models/gateway-api's type declarations.
// Output: src/api/generated/istio-schema.json (gitignored), with `_meta` naming the schemas' releases; and Istio's annotation
// table from the same module (annotation/annotations.yaml) as src/api/generated/istio-annotations.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseAllDocuments } from "yaml";

/** The Istio release whose schema Trellis follows; `trellis analyze --version` names it. */
const ISTIO_API_VERSION = "v1.32.0";

const require = createRequire(import.meta.url);
const ts = require("typescript");
const gatewayApi = dirname(require.resolve("@kubernetes-models/gateway-api/package.json"));

const ISTIO_KINDS = new Set(["VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "WorkloadEntry", "WorkloadGroup", "Sidecar", "PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication", "Telemetry"]);
const GATEWAY_API = {
  v1: ["GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "TLSRoute"],
  v1beta1: ["GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"],
  v1alpha2: ["GRPCRoute", "ReferenceGrant", "TLSRoute", "TCPRoute"],
  v1alpha3: ["TLSRoute"],
};

/** istio.io/api's module directory in Go's module cache (downloaded and checksummed on first use). */
function istioApiDir() {
  let info;
  try {
    info = JSON.parse(execFileSync("go", ["mod", "download", "-json", `istio.io/api@${ISTIO_API_VERSION}`], { encoding: "utf8", cwd: "/", stdio: ["ignore", "pipe", "pipe"] }));
  } catch (err) {
    throw new Error(`cannot fetch Istio's CRDs (go mod download istio.io/api@${ISTIO_API_VERSION}): ${err.stderr || err.message}; Go and the Go module proxy are needed to build`, { cause: err });
  }
  return info.Dir;
}

const istioCrds = (dir) => readFileSync(join(dir, "kubernetes", "customresourcedefinitions.gen.yaml"), "utf8");

/** Istio's annotation table (annotation/annotations.yaml): name, maturity, deprecation, where each may be placed. */
function istioAnnotations(dir) {
  const doc = parseAllDocuments(readFileSync(join(dir, "annotation", "annotations.yaml"), "utf8"))[0].toJS();
  return doc.annotations.map((a) => ({ name: a.name, featureStatus: a.featureStatus, deprecated: !!a.deprecated, resources: a.resources ?? [] }));
}

/** An OpenAPI v3 schema (as CRDs write it) as a field tree. */
function fromOpenApi(s) {
  if (!s || s["x-kubernetes-preserve-unknown-fields"] || s["x-kubernetes-int-or-string"]) return { t: "any" };
  switch (s.type) {
    case "object": {
      if (!s.properties && !s.additionalProperties) return { t: "any" };
      const node = { t: "object", props: Object.fromEntries(Object.entries(s.properties ?? {}).map(([k, v]) => [k, fromOpenApi(v)])) };
      if (s.additionalProperties && typeof s.additionalProperties === "object") node.additional = fromOpenApi(s.additionalProperties);
      return node;
    }
    case "array": return { t: "array", items: fromOpenApi(s.items) };
    case "string": return s.enum ? { t: "string", enum: s.enum.filter((e) => typeof e === "string") } : { t: "string" };
    case "integer": case "number": return { t: "number" };
    case "boolean": return { t: "boolean" };
    default: return { t: "any" };
  }
}

const out = {};
const apiDir = istioApiDir();
for (const doc of parseAllDocuments(istioCrds(apiDir))) {
  const crd = doc.toJS();
  if (!crd || !ISTIO_KINDS.has(crd.spec?.names?.kind)) continue;
  for (const v of crd.spec.versions) {
    if (!v.served) continue;
    out[`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`] = fromOpenApi(v.schema.openAPIV3Schema.properties.spec);
  }
}

// The Gateway API's kinds, from the TypeScript declarations @kubernetes-models compiles from its CRDs.
const files = Object.entries(GATEWAY_API).flatMap(([v, kinds]) => kinds.map((k) => ({ group: "gateway.networking.k8s.io", version: v, kind: k, file: join(gatewayApi, "gateway.networking.k8s.io", v, `${k}.d.ts`) })));
const program = ts.createProgram(files.map((f) => f.file), { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext });
const checker = program.getTypeChecker();

function literalValues(type) {
  if (!(type.flags & ts.TypeFlags.Union)) return undefined;
  const values = [];
  for (const t of type.types) {
    if (t.flags & ts.TypeFlags.StringLiteral) values.push(t.value);
    else if (t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null)) continue;
    else return undefined;
  }
  return values.length ? values : undefined;
}

function describe(type, depth) {
  if (depth > 40) return { t: "any" };
  const nonNull = type.flags & ts.TypeFlags.Union ? type.types.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Null))) : [type];
  if (nonNull.length === 0) return { t: "any" };
  const literals = literalValues(type);
  if (literals) return { t: "string", enum: literals };
  if (nonNull.length === 1 && nonNull[0].flags & ts.TypeFlags.StringLiteral) return { t: "string", enum: [nonNull[0].value] };
  const first = nonNull[0];
  if (nonNull.every((t) => t.flags & (ts.TypeFlags.String | ts.TypeFlags.StringLiteral))) return { t: "string" };
  if (nonNull.every((t) => t.flags & (ts.TypeFlags.Number | ts.TypeFlags.NumberLiteral))) return { t: "number" };
  if (nonNull.every((t) => t.flags & (ts.TypeFlags.Boolean | ts.TypeFlags.BooleanLiteral))) return { t: "boolean" };
  if (first.flags & ts.TypeFlags.Any || first.flags & ts.TypeFlags.Unknown) return { t: "any" };
  if (checker.isArrayType(first)) return { t: "array", items: describe(checker.getTypeArguments(first)[0], depth + 1) };
  // Objects, including oneOf unions and intersections: the union of every member's properties.
  const props = {};
  let additional;
  for (const member of nonNull) {
    const parts = member.flags & ts.TypeFlags.Intersection ? member.types : [member];
    for (const part of parts) {
      const inner = part.flags & ts.TypeFlags.Union ? part.types : [part];
      for (const t of inner) {
        for (const sym of checker.getPropertiesOfType(t)) {
          const decl = sym.valueDeclaration ?? sym.declarations?.[0];
          if (!decl) continue;
          const propType = checker.getTypeOfSymbolAtLocation(sym, decl);
          if (!props[sym.name]) props[sym.name] = describe(propType, depth + 1);
        }
        const index = checker.getIndexTypeOfType(t, ts.IndexKind.String);
        if (index && !additional) additional = describe(index, depth + 1);
      }
    }
  }
  const node = { t: "object", props };
  if (additional) node.additional = additional;
  return node;
}

for (const f of files) {
  const source = program.getSourceFile(f.file);
  if (!source) continue;
  const iface = source.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === `I${f.kind}`);
  const specMember = iface?.members.find((m) => m.name && m.name.text === "spec");
  if (!specMember) throw new Error(`no spec in ${f.file}`);
  out[`${f.group}/${f.version}/${f.kind}`] = describe(checker.getTypeAtLocation(specMember), 0);
}
const gatewayApiPkg = JSON.parse(readFileSync(join(gatewayApi, "package.json"), "utf8"));
out._meta = { istio: ISTIO_API_VERSION.slice(1), gatewayApi: `@kubernetes-models/gateway-api ${gatewayApiPkg.version}` };
mkdirSync("src/api/generated", { recursive: true });
writeFileSync("src/api/generated/istio-schema.json", JSON.stringify(out));
writeFileSync("src/api/generated/istio-annotations.json", JSON.stringify({ istio: ISTIO_API_VERSION.slice(1), annotations: istioAnnotations(apiDir) }));
