// Where and how to reach the Kubernetes API server: a kubeconfig file's current context, or the in-cluster service
// account (token re-read on every request, since projected tokens rotate). Errors name the field and the fix.
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";

export class KubeconfigError extends Error {
  readonly code = "TRELLIS_KUBECONFIG";
}

/** What the client needs to open a connection and authenticate. */
export interface KubeConnection {
  /** https://host:port (or http:// for a test server on loopback). */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** A bearer token, read when a request is made (in-cluster tokens rotate on disk). */
  token?: () => string;
  /** The namespace of the context (or the pod's), used when a caller gives none. */
  namespace: string;
  /** Where it came from, for messages ("kubeconfig /x/y context kind-a", "in-cluster"). */
  source: string;
}

type Named<T> = { name?: string; cluster?: T; user?: T; context?: T };
type Obj = Record<string, unknown>;

function pick(list: unknown, name: string, field: string, path: string): Obj {
  if (!Array.isArray(list)) throw new KubeconfigError(`kubeconfig ${path}: "${field}s" is missing or not a list`);
  const entry = (list as Array<Named<Obj>>).find((e) => e?.name === name);
  const value = entry?.[field as "cluster" | "user" | "context"];
  if (!value || typeof value !== "object") throw new KubeconfigError(`kubeconfig ${path}: no ${field} named "${name}" in "${field}s"`);
  return value;
}

/** Inline base64 data or a file (relative to the kubeconfig's folder), as kubectl reads them. */
function material(entry: Obj, field: string, base: string, path: string): Buffer | undefined {
  const data = entry[`${field}-data`];
  if (typeof data === "string" && data) return Buffer.from(data, "base64");
  const file = entry[field];
  if (typeof file !== "string" || !file) return undefined;
  const full = isAbsolute(file) ? file : join(base, file);
  if (!existsSync(full)) throw new KubeconfigError(`kubeconfig ${path}: ${field} ${full} does not exist`);
  return readFileSync(full);
}

/** Reads a kubeconfig file: current-context (or `context`), its cluster, user and namespace. */
export function loadKubeconfig(path: string, context?: string): KubeConnection {
  if (!existsSync(path)) throw new KubeconfigError(`kubeconfig ${path} does not exist: pass --kubeconfig FILE (or set KUBECONFIG)`);
  let doc: Obj;
  try {
    doc = parse(readFileSync(path, "utf8")) as Obj;
  } catch (err) {
    throw new KubeconfigError(`kubeconfig ${path} is not valid YAML: ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== "object") throw new KubeconfigError(`kubeconfig ${path} is empty`);
  const ctxName = context ?? (typeof doc["current-context"] === "string" ? (doc["current-context"] as string) : "");
  if (!ctxName) throw new KubeconfigError(`kubeconfig ${path}: "current-context" is not set; set it or pass a context`);
  const ctx = pick(doc.contexts, ctxName, "context", path);
  const cluster = pick(doc.clusters, String(ctx.cluster ?? ""), "cluster", path);
  const user = ctx.user ? pick(doc.users, String(ctx.user), "user", path) : {};
  const base = dirname(path);
  if (typeof cluster.server !== "string" || !/^https?:\/\//.test(cluster.server)) {
    throw new KubeconfigError(`kubeconfig ${path}: cluster "${String(ctx.cluster)}" needs "server" as https://HOST:PORT`);
  }
  if (cluster["insecure-skip-tls-verify"] === true) {
    throw new KubeconfigError(`kubeconfig ${path}: cluster "${String(ctx.cluster)}" sets insecure-skip-tls-verify; Trellis verifies the API server: give certificate-authority(-data)`);
  }
  if (user.exec || user["auth-provider"]) {
    throw new KubeconfigError(`kubeconfig ${path}: user "${String(ctx.user)}" uses ${user.exec ? "exec" : "auth-provider"} credentials, which Trellis does not run; use a client certificate or a token`);
  }
  const token = typeof user.token === "string" ? user.token : undefined;
  const tokenFile = typeof user.tokenFile === "string" ? (isAbsolute(user.tokenFile) ? user.tokenFile : join(base, user.tokenFile)) : undefined;
  const cert = material(user, "client-certificate", base, path);
  const key = material(user, "client-key", base, path);
  if (!!cert !== !!key) throw new KubeconfigError(`kubeconfig ${path}: user "${String(ctx.user)}" needs both client-certificate and client-key`);
  return {
    server: cluster.server.replace(/\/+$/, ""),
    ca: material(cluster, "certificate-authority", base, path),
    cert, key,
    token: token ? () => token : tokenFile ? () => readFileSync(tokenFile, "utf8").trim() : undefined,
    namespace: typeof ctx.namespace === "string" && ctx.namespace ? ctx.namespace : "default",
    source: `kubeconfig ${path} context ${ctxName}`,
  };
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** The pod's own credentials, as client-go's rest.InClusterConfig reads them; undefined outside a pod. */
export function inClusterConnection(dir = SA_DIR, env: NodeJS.ProcessEnv = process.env): KubeConnection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(join(dir, "token"))) return undefined;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    ca: existsSync(join(dir, "ca.crt")) ? readFileSync(join(dir, "ca.crt")) : undefined,
    token: () => readFileSync(join(dir, "token"), "utf8").trim(),
    namespace: existsSync(join(dir, "namespace")) ? readFileSync(join(dir, "namespace"), "utf8").trim() : "default",
    source: "in-cluster service account",
  };
}
