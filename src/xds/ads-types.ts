// The ADS server's public shapes: the snapshot it serves a node, what it reports of each connected proxy, and the
// hooks the control plane gives it (authorization, stream open and close, ACK and NACK).
import type * as grpc from "@grpc/grpc-js";
import type { AnyValue, ResourceKind } from "./resource.js";

export interface NodeInfo {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  userAgentName: string;
  locality?: { region: string; zone: string; sub_zone: string };
}

export interface Snapshot {
  versions: Partial<Record<ResourceKind, string>>;
  resources: Partial<Record<ResourceKind, Map<string, AnyValue>>>;
  /** The config generation it was built from (set by setSnapshot: the tracker's current one unless given). */
  generation?: number;
}

export type SyncState = "SYNCED" | "NOT SENT" | "STALE" | "NACKED";

export interface TypeStatus {
  typeUrl: string;
  state: SyncState;
  sentVersion?: string;
  ackedVersion?: string;
  nackError?: string;
  sentNonce?: string;
}

export interface ConnectedProxy {
  node: NodeInfo;
  streamId: number;
  connectedAt: Date;
  peerAddress: string;
  /** The stream arrived over TLS. */
  secure: boolean;
  /** Who the stream proved to be (a SPIFFE ID), when the server authenticates streams. */
  identity?: string;
  /** "SotW" (StreamAggregatedResources) or "Delta" (DeltaAggregatedResources). */
  protocol: "SotW" | "Delta";
  types: TypeStatus[];
}

/** What a stream's first request is judged with: its node, its call metadata, how it arrived. */
export interface StreamContext {
  node: NodeInfo;
  metadata: grpc.Metadata;
  secure: boolean;
  peerAddress: string;
}

export type StreamVerdict = { ok: true; identity?: string } | { ok: false; code: grpc.status; message: string };

export interface AdsServerOptions {
  /**
   * Decides whether a stream may be served; a refused stream ends with the verdict's status and message. It may
   * answer later (a TokenReview): the stream's requests wait for it.
   */
  authorize?(ctx: StreamContext): StreamVerdict | Promise<StreamVerdict>;
  onStreamOpen?(proxy: ConnectedProxy): void;
  onStreamClose?(proxy: ConnectedProxy): void;
  onAck?(proxy: ConnectedProxy, typeUrl: string, version: string): void;
  onNack?(proxy: ConnectedProxy, typeUrl: string, version: string | undefined, error: string): void;
}
