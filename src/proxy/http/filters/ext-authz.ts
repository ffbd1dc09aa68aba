// envoy.filters.http.ext_authz with an HTTP or gRPC (ext-authz-grpc.ts) authorization service (Istio's CUSTOM action): the
// request's method, path (after path_prefix) and chosen headers are sent to the service through its cluster; 200
// allows (with the upstream headers it returns), anything else is the answer the client gets (flag UAEX). A
// service that cannot be reached denies with status_on_error (403) unless failure_mode_allow. With
// filter_enabled_metadata, only requests whose dynamic metadata matches are checked (Istio marks them with a shadow
// RBAC filter holding the CUSTOM policy's rules).
import { request as h1request, type IncomingMessage } from "node:http";
import { request as tlsRequest } from "node:https";
import type { ExtAuthz__Output } from "../../../xds/generated/envoy/extensions/filters/http/ext_authz/v3/ExtAuthz.js";
import type { ListStringMatcher__Output } from "../../../xds/generated/envoy/type/matcher/v3/ListStringMatcher.js";
import type { MetadataMatcher__Output } from "../../../xds/generated/envoy/type/matcher/v3/MetadataMatcher.js";
import { envoyRoot } from "../../../xds/proto-root.js";
import { compileStringMatcher, type Predicate } from "../../matchers/string-matcher.js";
import { durationMs } from "../../util/duration.js";
import { registerFilter, type FilterFactoryContext, type FilterStatus, type HttpFilter } from "../filter.js";
import { localReply } from "../local-reply.js";
import type { StreamContext } from "../stream-context.js";
import { GrpcUnaryCaller } from "../../upstream/grpc-unary.js";
import { type AuthzDecision, checkOverGrpc } from "./ext-authz-grpc.js";
import { typedConfig } from "../../config/typed-config.js";

const NAME = "envoy.filters.http.ext_authz";
const MAX_BODY = 64 * 1024;
/** Never copied from the authorization response to the client or upstream, whatever the lists say. */
const RESERVED = new Set(["content-length", "transfer-encoding", "connection", "keep-alive", "host", ":status", ":authority", ":method", ":path", "date", "server"]);

function listMatcher(l: ListStringMatcher__Output | null | undefined): Predicate<string> | undefined {
  if (!l || l.patterns.length === 0) return undefined;
  const all = l.patterns.map(compileStringMatcher);
  return (s) => all.some((m) => m(s));
}

/** filter_enabled_metadata: a string matcher at a key path under one filter's dynamic metadata. */
function metadataMatcher(m: MetadataMatcher__Output | null | undefined, where: string): ((ctx: StreamContext) => boolean) | undefined {
  if (!m) return undefined;
  const keys = m.path.map((p) => p.key ?? "");
  const sm = m.value?.string_match;
  if (!sm || m.value?.match_pattern !== "string_match") throw new Error(`${where}.filter_enabled_metadata.value: only string_match is supported`);
  const test = compileStringMatcher(sm);
  return (ctx) => {
    let v: unknown = ctx.metadata[m.filter];
    for (const k of keys) v = v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined;
    const hit = typeof v === "string" && test(v);
    return m.invert ? !hit : hit;
  };
}

function statusCode(s: { code: string | number } | null | undefined): number {
  if (!s) return 403;
  if (typeof s.code === "number") return s.code;
  const n = envoyRoot().lookupEnum("envoy.type.v3.StatusCode").values[s.code];
  return typeof n === "number" && n >= 200 ? n : 403;
}

interface Compiled {
  cluster: string;
  /** grpc_service: Authorization/Check instead of the HTTP service. */
  grpc?: { caller: GrpcUnaryCaller; metadata: Array<[string, string]>; authority?: string };
  pathPrefix: string;
  timeoutMs: number;
  failureModeAllow: boolean;
  statusOnError: number;
  enabled?: (ctx: StreamContext) => boolean;
  requestHeaders?: Predicate<string>;
  headersToAdd: Array<[string, string]>;
  upstreamHeaders?: Predicate<string>;
  upstreamHeadersToAppend?: Predicate<string>;
  clientHeaders?: Predicate<string>;
  clientHeadersOnSuccess?: Predicate<string>;
}

class ExtAuthzFilter implements HttpFilter {
  readonly name = NAME;

  constructor(private readonly c: Compiled, private readonly deps: FilterFactoryContext) {}

  onRequest(ctx: StreamContext): FilterStatus | Promise<FilterStatus> {
    if (this.c.enabled && !this.c.enabled(ctx)) return "continue";
    return this.check(ctx);
  }

  private stat(name: string): void {
    this.deps.stats.inc(`http.${this.deps.statPrefix}.ext_authz.${name}`);
  }

  /** The service could not be asked: failure_mode_allow lets the request through, else status_on_error. */
  private failed(ctx: StreamContext, err: Error): FilterStatus {
    this.stat("error");
    if (this.c.failureModeAllow) {
      this.stat("failure_mode_allowed");
      return "continue";
    }
    console.error(`trellis proxy: ext_authz: ${this.c.cluster} could not be asked (${err.message}); denying with ${this.c.statusOnError}`);
    localReply(ctx, this.c.statusOnError, "", "UAEX");
    return "stop";
  }

  private async checkGrpc(ctx: StreamContext): Promise<FilterStatus> {
    const g = this.c.grpc!;
    let d: AuthzDecision;
    try {
      d = await checkOverGrpc(g.caller, ctx, { timeoutMs: this.c.timeoutMs, metadata: g.metadata, authority: g.authority, contextExtensions: {}, statusOf: statusCode });
    } catch (err) {
      return this.failed(ctx, err as Error);
    }
    if (!d.allowed) {
      this.stat("denied");
      localReply(ctx, d.status, d.body, "UAEX", Object.fromEntries(d.clientHeaders.filter(([k]) => !RESERVED.has(k))));
      return "stop";
    }
    this.stat("ok");
    for (const k of d.upstreamRemove) if (!RESERVED.has(k) && !k.startsWith(":")) delete ctx.upstreamHeaders[k];
    for (const [k, v, append] of d.upstreamSet) {
      if (RESERVED.has(k)) continue;
      const prev = ctx.upstreamHeaders[k];
      ctx.upstreamHeaders[k] = append && prev !== undefined ? [...(Array.isArray(prev) ? prev : [prev]), v] : v;
    }
    if (d.clientHeaders.length) {
      const previous = ctx.onResponseHeaders;
      ctx.onResponseHeaders = (headers) => {
        previous?.(headers);
        for (const [k, v] of d.clientHeaders) if (!RESERVED.has(k)) headers[k] = v;
      };
    }
    return "continue";
  }

  private async check(ctx: StreamContext): Promise<FilterStatus> {
    if (this.c.grpc) return this.checkGrpc(ctx);
    let answer: { status: number; headers: IncomingMessage["headers"]; body: Buffer };
    try {
      answer = await this.ask(ctx);
    } catch (err) {
      return this.failed(ctx, err as Error);
    }
    if (answer.status === 200) {
      this.stat("ok");
      for (const [k, v] of Object.entries(answer.headers)) {
        if (v === undefined || RESERVED.has(k)) continue;
        if (this.c.upstreamHeaders?.(k)) ctx.upstreamHeaders[k] = v;
        else if (this.c.upstreamHeadersToAppend?.(k)) {
          const prev = ctx.upstreamHeaders[k];
          ctx.upstreamHeaders[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(v) ? v : [v])];
        }
      }
      const onSuccess = this.c.clientHeadersOnSuccess;
      if (onSuccess) {
        const add = Object.entries(answer.headers).filter(([k, v]) => v !== undefined && !RESERVED.has(k) && onSuccess(k));
        if (add.length) {
          const previous = ctx.onResponseHeaders;
          ctx.onResponseHeaders = (headers) => {
            previous?.(headers);
            for (const [k, v] of add) headers[k] = v;
          };
        }
      }
      return "continue";
    }
    this.stat("denied");
    // The service's answer is the client's: its status, body and (all, or the allowed) headers.
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(answer.headers)) {
      if (v === undefined || RESERVED.has(k) || (this.c.clientHeaders && !this.c.clientHeaders(k))) continue;
      headers[k] = Array.isArray(v) ? v.join(", ") : v;
    }
    localReply(ctx, answer.status, answer.body.toString("utf8"), "UAEX", headers);
    return "stop";
  }

  /** The authorization request: same method, path_prefix + path, Host/Authorization and the allowed headers, no body. */
  private ask(ctx: StreamContext): Promise<{ status: number; headers: IncomingMessage["headers"]; body: Buffer }> {
    const cluster = this.deps.cluster?.(this.c.cluster);
    if (!cluster) return Promise.reject(new Error(`cluster ${this.c.cluster} is not configured`));
    const host = cluster.pick(undefined);
    if (!host) return Promise.reject(new Error(`cluster ${this.c.cluster} has no healthy host`));
    const pools = cluster.poolsFor(host);
    const headers: Record<string, string | string[]> = { "content-length": "0" };
    for (const [k, v] of Object.entries(ctx.req.headers)) {
      if (v === undefined || k.startsWith(":")) continue;
      if (k === "authorization" || this.c.requestHeaders?.(k)) headers[k] = v;
    }
    headers.host = ctx.view.header(":authority") ?? ctx.view.header("host") ?? "";
    for (const [k, v] of this.c.headersToAdd) headers[k] = v;
    return new Promise((resolve, reject) => {
      const req = (pools.options.tls ? tlsRequest : h1request)({
        host: host.address, port: host.port, method: ctx.view.method, path: this.c.pathPrefix + (ctx.view.header(":path") ?? ctx.req.url ?? "/"),
        headers, agent: pools.currentAgent(), setHost: false, timeout: this.c.timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= MAX_BODY) chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.c.timeoutMs} ms`)));
      req.on("error", reject);
      req.end();
    });
  }
}

registerFilter(NAME, "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz", (any, ctx) => {
  if (!any) throw new Error(`${NAME}: typed_config is required`);
  const r = typedConfig<ExtAuthz__Output>(any, NAME);
  const v = r;
  if (v.with_request_body) throw new Error(`${NAME}.with_request_body: sending the request body to the authorization service is not supported`);
  if (v.services === "grpc_service" && v.grpc_service) return grpcFilter(v, ctx);
  if (v.services !== "http_service" || !v.http_service) throw new Error(`${NAME}: name the authorization service (http_service or grpc_service)`);
  const uri = v.http_service.server_uri;
  if (!uri?.cluster) throw new Error(`${NAME}.http_service.server_uri.cluster is required`);
  const reqCfg = v.http_service.authorization_request;
  const resCfg = v.http_service.authorization_response;
  const compiled: Compiled = {
    cluster: uri.cluster,
    pathPrefix: v.http_service.path_prefix,
    timeoutMs: durationMs(uri.timeout, 200),
    failureModeAllow: v.failure_mode_allow,
    statusOnError: statusCode(v.status_on_error as { code: string | number } | null),
    enabled: metadataMatcher(v.filter_enabled_metadata, NAME),
    requestHeaders: listMatcher(reqCfg?.allowed_headers) ?? listMatcher(v.allowed_headers),
    headersToAdd: (reqCfg?.headers_to_add ?? []).map((h) => [h.key.toLowerCase(), h.value]),
    upstreamHeaders: listMatcher(resCfg?.allowed_upstream_headers),
    upstreamHeadersToAppend: listMatcher(resCfg?.allowed_upstream_headers_to_append),
    clientHeaders: listMatcher(resCfg?.allowed_client_headers),
    clientHeadersOnSuccess: listMatcher(resCfg?.allowed_client_headers_on_success),
  };
  return new ExtAuthzFilter(compiled, ctx);
});

/** ext_authz with grpc_service: envoy_grpc's cluster, the gRPC call's timeout (200 ms as Envoy's), initial_metadata. */
function grpcFilter(v: ExtAuthz__Output, ctx: FilterFactoryContext): ExtAuthzFilter {
  const g = v.grpc_service!;
  const cluster = g.envoy_grpc?.cluster_name;
  if (!cluster) throw new Error(`${NAME}.grpc_service: only envoy_grpc (cluster_name) is supported; google_grpc is not`);
  if (!ctx.cluster) throw new Error(`${NAME}.grpc_service: this listener cannot reach clusters`);
  return new ExtAuthzFilter({
    cluster,
    grpc: { caller: new GrpcUnaryCaller(cluster, (n) => ctx.cluster!(n)), metadata: g.initial_metadata.map((h) => [h.key.toLowerCase(), h.value]), authority: g.envoy_grpc!.authority || undefined },
    pathPrefix: "",
    timeoutMs: durationMs(g.timeout, 200),
    failureModeAllow: v.failure_mode_allow,
    statusOnError: statusCode(v.status_on_error as { code: string | number } | null),
    enabled: metadataMatcher(v.filter_enabled_metadata, NAME),
    headersToAdd: [],
  }, ctx);
}
