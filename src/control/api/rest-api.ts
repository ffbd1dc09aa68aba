// The REST API on 15014: Kubernetes-shaped paths over the store (list, get, create, replace, delete, watch), writes
// validated by the analyzer (errors -> 400 with findings, warnings returned), plus proxy sync status.
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { analyze, validateResource } from "../../api/analyze.js";
import type { Finding } from "../../api/finding.js";
import { KINDS, type KindInfo } from "../../api/kinds.js";
import type { IstioResource } from "../../api/resource.js";
import { storeKind, storeKindOf } from "../../api/store-kind.js";
import { ConflictError, type ConfigStore, NotFoundError, type StoreEvent } from "../store/config-store.js";
import { restStatusOfKubeError } from "../kube/kube-rest-status.js";
import { BodyError, readJsonBody } from "./json-body.js";
import { refuseRequest } from "./request-guard.js";
import { badNamespace, badResourceName } from "./resource-names.js";

export interface ApiDeps {
  store: ConfigStore;
  /** Per-proxy sync status, for `trellis proxy-status` and the console. */
  proxies(): unknown;
  /** Services and workloads known to the registry, for the analyzer's cross-resource checks. */
  meshContext(): { services?: Array<{ hostname: string; namespace: string }>; workloads?: Array<{ namespace: string; labels: Record<string, string> }> };
  version: string;
  /** When set, every request must carry `Authorization: Bearer TOKEN` (required off loopback). */
  token?: string;
  /** More APIs mounted beside the resources (telemetry, traces): each answers and returns true, or returns false. */
  routes?: ApiRoute[];
  /** Host names served besides IP addresses and localhost (--allowed-host): others are refused (DNS rebinding). */
  allowedHosts?: Iterable<string>;
  /** Resources skipped because they cannot be translated, and proxies with no current configuration. */
  configErrors?(): unknown;
}

export type ApiRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function status(res: ServerResponse, code: number, reason: string, message: string, findings?: Finding[]): void {
  send(res, code, { kind: "Status", apiVersion: "v1", status: "Failure", code, reason, message, ...(findings ? { details: { findings } } : {}) });
}

/** The JSON body; errors carry the status to answer (413 too large, 400 not JSON). */
export function readBody(req: IncomingMessage): Promise<unknown> {
  return readJsonBody(req);
}

/** Answers a body error with its status; after a 413 the connection closes. */
export function bodyError(req: IncomingMessage, res: ServerResponse, err: Error): void {
  const code = err instanceof BodyError ? err.status : 400;
  if (code === 413) res.setHeader("connection", "close");
  status(res, code, code === 413 ? "RequestEntityTooLarge" : "BadRequest", err.message);
}

interface Target {
  info: KindInfo;
  version: string;
  namespace?: string;
  name?: string;
}

/** /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME] */
function parsePath(path: string): Target | { error: string; code?: number; refusedName?: { kind: string; namespace: string; name: string } } | undefined {
  const m = /^\/apis\/([^/]+)\/([^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (!m) return undefined;
  const [, group, version, namespace, plural, rawName] = m;
  let name: string | undefined;
  try {
    name = rawName ? decodeURIComponent(rawName) : undefined;
  } catch {
    return { error: `the name in the path has a bad percent-escape: ${rawName.slice(0, 80)}`, code: 400 };
  }
  const bad = (namespace !== undefined ? badNamespace("the path's namespace", namespace) : undefined) ?? (name !== undefined ? badResourceName("the path's name", name) : undefined);
  const info = KINDS.find((k) => k.group === group && k.plural === plural);
  // Kept for a DELETE: a resource an older version stored under such a name may sit in the quarantine.
  if (bad) return { error: bad, code: 400, ...(info && namespace && name !== undefined ? { refusedName: { kind: storeKind(info), namespace, name } } : {}) };
  if (!info) return { error: `the server does not serve ${plural} in ${group}; kinds: ${KINDS.map((k) => `${k.group}/${k.plural}`).join(", ")}` };
  if (!info.versions.includes(version)) return { error: `${info.kind} is not served at ${group}/${version}; served versions: ${info.versions.join(", ")}` };
  return { info, version, namespace, name };
}

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  if (!m) return false;
  const a = Buffer.from(m[1]);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function restApi(deps: ApiDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const hosts = new Set([...(deps.allowedHosts ?? [])].map((h) => h.toLowerCase()));
  return (req, res) => {
    // A store that cannot reach its quorum (etcd) refuses the write: 503, so clients know to retry, not to fix the request.
    handle(deps, hosts, req, res).catch((err: Error & { code?: string }) => {
      if (err.code === "TRELLIS_STORE_UNAVAILABLE") return status(res, 503, "ServiceUnavailable", err.message);
      const kube = restStatusOfKubeError(err);
      return kube ? status(res, kube.code, kube.reason, kube.message) : status(res, 500, "InternalError", err.message);
    });
  };
}

async function handle(deps: ApiDeps, hosts: ReadonlySet<string>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://api");
  const refusal = refuseRequest(req, hosts);
  if (refusal) return status(res, refusal.status, refusal.reason, refusal.message);
  if (!authorized(req, deps.token)) return status(res, 401, "Unauthorized", "send Authorization: Bearer TOKEN (the token is in STATE_DIR/api-token)");
  if (url.pathname === "/version") return send(res, 200, { version: deps.version });
  if (url.pathname === "/readyz") return send(res, 200, { status: "ok" });
  if (url.pathname === "/debug/proxies") return send(res, 200, deps.proxies());
  if (url.pathname === "/debug/config-errors") return send(res, 200, deps.configErrors?.() ?? { skippedResources: [], proxies: [] });
  if (url.pathname === "/api/v1/validations") return send(res, 200, analyze(deps.store.list(), deps.meshContext()));
  for (const route of deps.routes ?? []) if (await route(req, res, url)) return;
  const target = parsePath(url.pathname);
  if (!target) return status(res, 404, "NotFound", `no API at ${url.pathname}; paths look like /apis/networking.istio.io/v1/namespaces/default/virtualservices/NAME`);
  if ("error" in target && target.refusedName && req.method === "DELETE") return deleteQuarantined(deps.store, target.refusedName, target.error, res);
  if ("error" in target) return target.code === 400 ? status(res, 400, "BadRequest", target.error) : status(res, 404, "NotFound", target.error);
  const { info, namespace, name } = target;
  const store = deps.store;
  switch (req.method) {
    case "GET": {
      if (url.searchParams.get("watch") === "true") return watch(store, storeKind(info), namespace, req, res);
      if (name) {
        const r = store.get(storeKind(info), namespace ?? "default", name);
        return r ? send(res, 200, r) : status(res, 404, "NotFound", `${info.kind} ${namespace ?? "default"}/${name} not found`);
      }
      return send(res, 200, { apiVersion: `${info.group}/${target.version}`, kind: `${info.kind}List`, metadata: { resourceVersion: String(store.version()) }, items: store.list(storeKind(info), namespace) });
    }
    case "POST":
    case "PUT": {
      if (!namespace) return status(res, 400, "BadRequest", "writes need a namespace in the path: /apis/GROUP/VERSION/namespaces/NS/PLURAL");
      let body: IstioResource;
      try {
        body = (await readBody(req)) as IstioResource;
      } catch (err) {
        return bodyError(req, res, err as Error);
      }
      const shape = checkShape(body, target);
      if (shape) return status(res, 400, "BadRequest", shape);
      if (body.kind !== info.kind) return status(res, 400, "BadRequest", `the body's kind ${body.kind} does not match the path's ${info.kind}`);
      if (req.method === "PUT" && body.metadata.name !== name) return status(res, 400, "BadRequest", `the body's metadata.name ${body.metadata.name} does not match the path's ${name}`);
      if (body.metadata.namespace && body.metadata.namespace !== namespace) return status(res, 400, "BadRequest", `the body's metadata.namespace ${body.metadata.namespace} does not match the path's ${namespace}`);
      const resource: IstioResource = { ...body, metadata: { ...body.metadata, namespace } };
      // A resource that is wrong in itself is refused; what depends on other resources (a subset whose
      // DestinationRule comes in the next write) is returned as a warning, since apply order is the user's.
      const structural = validateResource(resource);
      const errors = structural.filter((f) => f.level === "Error");
      const others = store.list().filter((r) => !(storeKindOf(r) === storeKindOf(resource) && r.metadata.namespace === namespace && r.metadata.name === resource.metadata.name));
      const findings = errors.length ? structural : analyze([...others, resource], deps.meshContext()).filter((f) => f.resource?.kind === resource.kind && f.resource.namespace === namespace && f.resource.name === resource.metadata.name);
      if (errors.length) return status(res, 400, "Invalid", `${info.kind} ${namespace}/${resource.metadata.name} is invalid: ${errors.map((e) => `${e.path ?? ""}: ${e.message}`).join("; ")}`, findings);
      // kubectl's server-side dry run: validated as a write would be, nothing stored (the console's live validation).
      if (url.searchParams.get("dryRun") === "All") return send(res, 200, { ...resource, ...(findings.length ? { warnings: findings } : {}) });
      try {
        const stored = await store.put(resource, { mustNotExist: req.method === "POST", expectVersion: req.method === "PUT" ? body.metadata.resourceVersion : undefined });
        return send(res, req.method === "POST" ? 201 : 200, { ...stored, ...(findings.length ? { warnings: findings } : {}) });
      } catch (err) {
        if (err instanceof ConflictError) return status(res, 409, "Conflict", err.message);
        throw err;
      }
    }
    case "DELETE": {
      if (!namespace || !name) return status(res, 400, "BadRequest", "DELETE needs /namespaces/NS/PLURAL/NAME");
      try {
        return send(res, 200, await store.delete(storeKind(info), namespace, name));
      } catch (err) {
        if (err instanceof NotFoundError) return status(res, 404, "NotFound", err.message);
        throw err;
      }
    }
    default:
      return status(res, 405, "MethodNotAllowed", `${req.method} is not supported; use GET, POST, PUT or DELETE`);
  }
}

/**
 * DELETE of a name now refused: removes the resource an older version stored under it, which the store set aside at
 * load (it was never served since); otherwise the name's rule, as for any other request.
 */
function deleteQuarantined(store: ConfigStore, t: { kind: string; namespace: string; name: string }, error: string, res: ServerResponse): void {
  const q = store.deleteQuarantined?.(t.kind, t.namespace, t.name);
  if (!q) return status(res, 400, "BadRequest", error);
  send(res, 200, { kind: "Status", apiVersion: "v1", status: "Success", code: 200, message: `${q.kind} ${q.namespace}/${q.name} was stored under a name now refused and set aside at startup (${q.file} under the state directory, never served); its file is now deleted. Recreate it under a valid name if you still need it.` });
}

/** Why a write's body does not fit its path: apiVersion and kind of the path, metadata an object, a valid name. */
function checkShape(body: unknown, { info, version }: Target): string | undefined {
  if (!body || typeof body !== "object" || Array.isArray(body)) return "the body must be a resource (a JSON object with apiVersion, kind, metadata and spec)";
  const r = body as Record<string, unknown>;
  const expected = `${info.group}/${version}`;
  if (r.apiVersion !== expected) return `apiVersion: ${r.apiVersion === undefined ? "missing" : JSON.stringify(r.apiVersion)}; this path takes ${expected}`;
  if (!r.metadata || typeof r.metadata !== "object" || Array.isArray(r.metadata)) return "metadata: must be an object with a name";
  const m = r.metadata as Record<string, unknown>;
  return badResourceName("metadata.name", m.name) ?? (m.namespace !== undefined ? badNamespace("metadata.namespace", m.namespace) : undefined);
}

function watch(store: ConfigStore, kind: string, namespace: string | undefined, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, { "content-type": "application/x-ndjson" });
  for (const r of store.list(kind, namespace)) res.write(JSON.stringify({ type: "ADDED", object: r }) + "\n");
  const onEvent = (e: StoreEvent) => {
    if (storeKindOf(e.object) === kind && (!namespace || e.object.metadata.namespace === namespace)) res.write(JSON.stringify(e) + "\n");
  };
  store.on("event", onEvent);
  req.on("close", () => store.off("event", onEvent));
}
