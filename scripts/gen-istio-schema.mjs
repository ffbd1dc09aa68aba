// Derives a field tree for every Istio and Gateway API kind Trellis validates from @kubernetes-models/istio's and
// @kubernetes-models/gateway-api's type declarations (themselves generated from the CRDs' OpenAPI schemas), so unknown
// fields, types and enums come from the projects' schemas rather than from a hand-written copy. Output: src/api/generated/istio-schema.json (gitignored).
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const ts = require("typescript");
const istio = dirname(require.resolve("@kubernetes-models/istio/package.json"));
const gatewayApi = dirname(require.resolve("@kubernetes-models/gateway-api/package.json"));

/** group -> version -> kinds, as src/api/kinds.ts serves them. */
const KINDS = {
  "networking.istio.io": { pkg: istio, versions: Object.fromEntries(["v1", "v1beta1", "v1alpha3"].map((v) => [v, ["VirtualService", "DestinationRule", "Gateway", "ServiceEntry", "WorkloadEntry", "Sidecar"]])) },
  "security.istio.io": { pkg: istio, versions: Object.fromEntries(["v1", "v1beta1"].map((v) => [v, ["PeerAuthentication", "AuthorizationPolicy", "RequestAuthentication"]])) },
  "gateway.networking.k8s.io": { pkg: gatewayApi, versions: {
    v1: ["GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "TLSRoute"],
    v1beta1: ["GatewayClass", "Gateway", "HTTPRoute", "ReferenceGrant"],
    v1alpha2: ["GRPCRoute", "ReferenceGrant", "TLSRoute", "TCPRoute"],
    v1alpha3: ["TLSRoute"],
  } },
};

const files = [];
for (const [group, { pkg, versions }] of Object.entries(KINDS)) {
  for (const [v, kinds] of Object.entries(versions)) for (const k of kinds) files.push({ group, version: v, kind: k, file: join(pkg, group, v, `${k}.d.ts`) });
}
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

const out = {};
for (const f of files) {
  const source = program.getSourceFile(f.file);
  if (!source) continue;
  const iface = source.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === `I${f.kind}`);
  const specMember = iface?.members.find((m) => m.name && m.name.text === "spec");
  if (!specMember) throw new Error(`no spec in ${f.file}`);
  const type = checker.getTypeAtLocation(specMember);
  out[`${f.group}/${f.version}/${f.kind}`] = describe(type, 0);
}
mkdirSync("src/api/generated", { recursive: true });
writeFileSync("src/api/generated/istio-schema.json", JSON.stringify(out));
