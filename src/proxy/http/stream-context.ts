// Everything one downstream request carries through the filter chain and the router.
import type { IstioService } from "../upstream/cluster.js";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Http1Request, Http1Response } from "../http1/server-messages.js";
import type { CompiledRoute } from "./route-table.js";
import type { RequestView } from "./request-view.js";

export type DownstreamRequest = Http1Request | Http2ServerRequest;
export type DownstreamResponse = Http1Response | Http2ServerResponse;

/** Connection facts filters may look at (RBAC, access logs, ORIGINAL_DST). */
export interface ConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** Where the connection was going before interception (transparent mode). */
  originalDst?: { address: string; port: number };
  /** The peer's URI SAN (mTLS), when any. */
  peerPrincipal?: string;
  requestedServerName?: string;
  /** The protocol the TLS handshake settled on (ALPN), when any. */
  alpn?: string;
  tls: boolean;
}

export interface StreamContext {
  req: DownstreamRequest;
  res: DownstreamResponse;
  view: RequestView;
  conn: ConnectionInfo;
  route: CompiledRoute | undefined;
  /** Request headers as they will go upstream; filters may change them. */
  upstreamHeaders: Record<string, string | string[] | undefined>;
  startTime: number;
  startHr: bigint;
  /** Envoy response flags (UH, UF, NR, ...), in the order they happened. */
  flags: string[];
  /** Dynamic metadata by filter name (jwt_authn payloads, istio_authn attributes, rbac results). */
  metadata: Record<string, Record<string, unknown>>;
  upstreamHost?: string;
  /** The upstream endpoint's workload ("name;namespace;app;version;"), from its EDS metadata. */
  upstreamWorkload?: string;
  /** Who called, from the metadata exchange header (inbound side). */
  sourcePeer?: import("../stats/istio-metrics.js").PeerInfo;
  upstreamCluster?: string;
  /** The service behind the upstream cluster, from Istio's cluster metadata (ServiceEntry hosts). */
  upstreamService?: IstioService;
  bytesReceived: number;
  bytesSent: number;
  responseCode: number;
  requestId: string;
  grpc: boolean;
  /** Set once a response (local or upstream) has started, so nothing else answers. */
  responded: boolean;
  /** Milliseconds the fault filter delayed the request. */
  faultDelayMs: number;
  /** The stream idle timer (stream_idle_timeout / the route's idle_timeout); refreshed by body bytes either way. */
  idleTimer?: NodeJS.Timeout;
  /** Set by the router while an upstream attempt is in flight: gives it up (a stream timeout fired). */
  cancelUpstream?: () => void;
  /** Set by the connection manager: lets filters change response headers before they are sent. */
  onResponseHeaders?: (headers: Record<string, string | string[] | undefined>) => void;
  /** The connection manager's local_reply_config, applied to every reply the proxy makes itself. */
  rewriteLocalReply?: import("./local-reply-config.js").LocalReplyRewriter;
  /** Streams the upstream response body goes through, in order (decompressor, compressor), added by filters. */
  responseTransforms?: import("node:stream").Transform[];
}
