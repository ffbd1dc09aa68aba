// A small Kubernetes REST client: JSON requests and streamed watches over one keep-alive agent, with errors that say
// which verb on which resource failed and why (the API server's Status), so RBAC gaps name what to grant.
import * as http from "node:http";
import * as https from "node:https";
import type { KubeConnection } from "./kubeconfig.js";

/** A Kubernetes object as JSON: enough typing for metadata, the rest is the caller's to read. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number;
    labels?: Record<string, string>; annotations?: Record<string, string>;
    creationTimestamp?: string; deletionTimestamp?: string; ownerReferences?: Array<Record<string, unknown>>;
  };
  [field: string]: unknown;
}

export interface KubeList<T = KubeObject> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export type WatchEvent<T = KubeObject> = { type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR"; object: T };

/** The API server answered with an error Status (or could not be reached: status 0). */
export class KubeApiError extends Error {
  readonly code: string;
  constructor(readonly status: number, readonly reason: string, message: string, readonly verb: string, readonly path: string) {
    super(message);
    this.code = status === 0 ? "TRELLIS_KUBE_UNREACHABLE" : status === 403 ? "TRELLIS_KUBE_FORBIDDEN" : status === 404 ? "TRELLIS_KUBE_NOT_FOUND" : status === 409 ? "TRELLIS_KUBE_CONFLICT" : status === 410 ? "TRELLIS_KUBE_GONE" : "TRELLIS_KUBE_ERROR";
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Defaults to application/json; PATCH callers pass the patch type (merge, strategic, apply). */
  contentType?: string;
  /** Abort the request (watches end this way). */
  signal?: AbortSignal;
  /** For requests that must answer soon (not watches); default 30 s. */
  timeoutMs?: number;
}

const VERBS: Record<string, string> = { GET: "get", POST: "create", PUT: "update", PATCH: "patch", DELETE: "delete" };

/** "list pods in namespace x", "watch services at the cluster scope": how an RBAC message names a request. */
function describe(method: string, path: string, query?: RequestOptions["query"]): string {
  const parts = path.split("?")[0].split("/").filter(Boolean);
  const ns = parts.indexOf("namespaces");
  const namespaced = ns >= 0 && parts.length > ns + 2;
  const rest = namespaced ? parts.slice(ns + 2) : parts.slice(parts[0] === "api" ? 2 : 3);
  const resource = rest[0] ?? parts[parts.length - 1] ?? path;
  const sub = rest.length > 2 ? `/${rest[2]}` : "";
  let verb = VERBS[method] ?? method.toLowerCase();
  if (method === "GET" && rest.length === 1) verb = query?.watch ? "watch" : "list";
  const scope = namespaced ? `in namespace ${parts[ns + 1]}` : "at the cluster scope";
  return `${verb} ${resource}${sub} ${scope}`;
}

export class KubeClient {
  private readonly agent: http.Agent;
  private readonly base: URL;

  constructor(readonly connection: KubeConnection) {
    this.base = new URL(connection.server);
    this.agent = this.base.protocol === "https:"
      ? new https.Agent({ keepAlive: true, ca: connection.ca, cert: connection.cert, key: connection.key, maxSockets: 32 })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  get namespace(): string {
    return this.connection.namespace;
  }

  /** One JSON request; resolves with the parsed body, rejects with a KubeApiError. */
  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.open(method, path, opts);
    const text = await readAll(res);
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    throw this.error(status, text, method, path, opts.query);
  }

  get<T = KubeObject>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>("GET", path, opts);
  }

  /** GET that answers undefined on 404 instead of throwing. */
  async find<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * Streams a watch: calls `onEvent` for each event line until the server ends the stream, the signal aborts, or an
   * error occurs (rejects). A watch answered with an error status rejects with its KubeApiError (410 when too old).
   */
  async watch<T = KubeObject>(path: string, query: RequestOptions["query"], onEvent: (e: WatchEvent<T>) => void, signal?: AbortSignal): Promise<void> {
    const res = await this.open("GET", path, { query: { ...query, watch: true }, signal, timeoutMs: 0 });
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw this.error(status, await readAll(res), "GET", path, { ...query, watch: true });
    await new Promise<void>((resolve, reject) => {
      let pending = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (!line) continue;
          try {
            onEvent(JSON.parse(line) as WatchEvent<T>);
          } catch (err) {
            // Settle before destroying: destroy() emits "aborted" at once, which would win with a vaguer error.
            reject(err instanceof SyntaxError ? new KubeApiError(status, "BadWatchEvent", `watch ${path}: an event is not JSON: ${err.message}`, "watch", path) : err);
            res.destroy();
            return;
          }
        }
      });
      res.on("end", resolve);
      res.on("error", (err) => (signal?.aborted ? resolve() : reject(err)));
      res.on("aborted", () => (signal?.aborted ? resolve() : reject(new KubeApiError(0, "WatchAborted", `watch ${path} was cut off`, "watch", path))));
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private open(method: string, path: string, opts: RequestOptions): Promise<http.IncomingMessage> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = opts.body === undefined ? undefined : Buffer.from(typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body));
    const headers: Record<string, string> = { accept: "application/json" };
    if (body) headers["content-type"] = opts.contentType ?? "application/json";
    const token = this.connection.token?.();
    if (token) headers.authorization = `Bearer ${token}`;
    const mod = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, signal: opts.signal }, resolve);
      const timeout = opts.timeoutMs ?? 30_000;
      if (timeout > 0) req.setTimeout(timeout, () => req.destroy(new Error(`no answer within ${timeout} ms`)));
      req.on("error", (err) => reject(opts.signal?.aborted ? err : new KubeApiError(0, "Unreachable", `${describe(method, path, opts.query)}: the API server ${this.connection.server} (${this.connection.source}) cannot be reached: ${err.message}`, method, path)));
      req.end(body);
    });
  }

  private error(status: number, text: string, method: string, path: string, query?: RequestOptions["query"]): KubeApiError {
    let reason = `HTTP ${status}`;
    let message = text.slice(0, 500);
    try {
      const s = JSON.parse(text) as { reason?: string; message?: string };
      reason = s.reason ?? reason;
      message = s.message ?? message;
    } catch { /* not a Status: keep the text */ }
    const what = describe(method, path, query);
    const hint = status === 403 ? `; the control plane's ClusterRole must grant "${what.split(" ")[0]}" on "${what.split(" ")[1]}"` : "";
    return new KubeApiError(status, reason, `${what}: ${reason}: ${message}${hint}`, method, path);
  }
}

function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on("data", (c: Buffer) => chunks.push(c));
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
  });
}
