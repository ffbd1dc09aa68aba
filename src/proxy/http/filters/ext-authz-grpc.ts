// ext_authz's gRPC authorization service (envoy.service.auth.v3.Authorization/Check, as Istio's envoyExtAuthzGrpc
// providers and OPA-Envoy speak it): the request's attributes in a CheckRequest, the CheckResponse as a decision.
import type { HeaderValueOption__Output } from "../../../xds/generated/envoy/config/core/v3/HeaderValueOption.js";
import { CANONICAL } from "../../../xds/resource.js";
import { envoyRoot } from "../../../xds/proto-root.js";
import type { GrpcUnaryCaller } from "../../upstream/grpc-unary.js";
import type { StreamContext } from "../stream-context.js";

const CHECK = "/envoy.service.auth.v3.Authorization/Check";

/** What the authorization service decided, whichever protocol asked it. */
export interface AuthzDecision {
  allowed: boolean;
  /** Denied: the status the client gets. */
  status: number;
  body: string;
  /** Denied: headers for the client; allowed: headers to add to the response (response_headers_to_add). */
  clientHeaders: Array<[string, string]>;
  /** Allowed: headers set (or appended) on the request that goes upstream, and headers removed from it. */
  upstreamSet: Array<[string, string, boolean]>;
  upstreamRemove: string[];
}

function addr(address: string, port: number): unknown {
  return { socket_address: { address, port_value: port } };
}

/** The CheckRequest for a request: peers, the HTTP attributes (headers lower-case, pseudo-headers included). */
export function checkRequest(ctx: StreamContext, contextExtensions: Record<string, string>): Buffer {
  const type = envoyRoot().lookupType("envoy.service.auth.v3.CheckRequest");
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(",") : String(v);
  const view = ctx.view;
  headers[":method"] ??= view.method;
  headers[":path"] ??= view.path;
  headers[":authority"] ??= view.authority;
  const now = Date.now();
  const length = Number(view.header("content-length") ?? -1);
  const msg = type.fromObject({
    attributes: {
      source: { address: addr(ctx.conn.remoteAddress, ctx.conn.remotePort), principal: ctx.conn.peerPrincipal ?? "" },
      destination: { address: addr(ctx.conn.localAddress, ctx.conn.localPort) },
      request: {
        time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
        http: { id: ctx.requestId, method: view.method, headers, path: view.path, host: view.authority, scheme: view.scheme, protocol: ctx.req.httpVersion === "2.0" ? "HTTP/2" : `HTTP/${ctx.req.httpVersion}`, size: Number.isFinite(length) ? length : -1 },
      },
      context_extensions: contextExtensions,
      ...(ctx.conn.requestedServerName ? { tls_session: { sni: ctx.conn.requestedServerName } } : {}),
    },
  });
  return Buffer.from(type.encode(msg).finish());
}

function pairs(list: HeaderValueOption__Output[] | undefined): Array<[string, string, boolean]> {
  // In an authorization answer, `append` defaults to false (the header is set), as Envoy documents for OkHttpResponse.
  return (list ?? []).filter((h) => h.header).map((h) => [h.header!.key.toLowerCase(), h.header!.value || Buffer.from(h.header!.raw_value ?? []).toString("latin1"), h.append?.value ?? h.append_action === "APPEND_IF_EXISTS_OR_ADD"]);
}

interface CheckResponse {
  status: { code: number } | null;
  denied_response: { status: { code: string | number } | null; headers: HeaderValueOption__Output[]; body: string } | null;
  ok_response: { headers: HeaderValueOption__Output[]; headers_to_remove: string[]; response_headers_to_add: HeaderValueOption__Output[] } | null;
}

/** Asks the service; rejects when it cannot be asked (the caller applies failure_mode_allow / status_on_error). */
export async function checkOverGrpc(caller: GrpcUnaryCaller, ctx: StreamContext, opts: { timeoutMs: number; metadata: Array<[string, string]>; authority?: string; contextExtensions: Record<string, string>; statusOf: (s: { code: string | number } | null) => number }): Promise<AuthzDecision> {
  const bytes = await caller.call({ path: CHECK, body: checkRequest(ctx, opts.contextExtensions), timeoutMs: opts.timeoutMs, metadata: opts.metadata, authority: opts.authority });
  const type = envoyRoot().lookupType("envoy.service.auth.v3.CheckResponse");
  const r = type.toObject(type.decode(bytes), CANONICAL) as unknown as CheckResponse;
  if ((r.status?.code ?? 0) === 0) {
    return {
      allowed: true, status: 200, body: "",
      upstreamSet: pairs(r.ok_response?.headers), upstreamRemove: (r.ok_response?.headers_to_remove ?? []).map((h) => h.toLowerCase()),
      clientHeaders: pairs(r.ok_response?.response_headers_to_add).map(([k, v]) => [k, v]),
    };
  }
  const denied = r.denied_response;
  return {
    allowed: false, status: denied?.status ? opts.statusOf(denied.status) : 403, body: denied?.body ?? "",
    clientHeaders: pairs(denied?.headers).map(([k, v]) => [k, v]), upstreamSet: [], upstreamRemove: [],
  };
}
