// Who may open an xDS stream, and as whom. A stream registers a workload from its node metadata, so believing that
// metadata unchecked would let any process claim any service (and switch mutual TLS off toward it). With the CA on,
// every stream proves an identity with its bearer credential (as Istio's agents send their JWT to istiod on 15012):
// the node must claim that same namespace and service account, only the service and labels its credential allows,
// and a node id another identity holds now is refused (the same identity may replace its own older stream).
// Plaintext xDS is served to loopback peers only.
import * as grpc from "@grpc/grpc-js";
import type { ConnectedProxy, StreamContext, StreamVerdict } from "../../xds/ads-server.js";
import { spiffeId } from "../../identity/spiffe.js";
import { bearer } from "./ca-service.js";
import { exceedsScope, type RegistrationScope } from "./registration-scope.js";
import type { AuthnResult, WorkloadAuthenticator } from "./workload-authenticator.js";

export function isLoopbackPeer(peer: string): boolean {
  const host = peer.startsWith("[") ? peer.slice(1, peer.indexOf("]")) : peer.slice(0, peer.lastIndexOf(":"));
  return /^127\./.test(host) || host === "::1" || /^::ffff:127\./.test(host) || host === "localhost";
}

/** Resolves a WorkloadEntry scope to the entry's labels and service; undefined when there is no such entry. */
export type EntryResolver = (namespace: string, name: string) => RegistrationScope | undefined;

/** `authn` is undefined when the control plane runs no CA: the mesh then has no identities to prove. */
export function xdsAuthorizer(authn: WorkloadAuthenticator | undefined, streams: () => ConnectedProxy[] = () => [], entries: EntryResolver = () => undefined): (ctx: StreamContext) => StreamVerdict | Promise<StreamVerdict> {
  return (ctx) => {
    const { node, metadata, secure, peerAddress } = ctx;
    if (!secure && !isLoopbackPeer(peerAddress)) {
      return { ok: false, code: grpc.status.UNAUTHENTICATED, message: `plaintext xDS is served to loopback peers only (${peerAddress} is not): connect over TLS to the CA port (15012) with a bootstrap token` };
    }
    if (!authn) return { ok: true };
    const token = bearer(metadata);
    if (!token) {
      return { ok: false, code: grpc.status.UNAUTHENTICATED, message: `node ${node.id} sent no bootstrap token: this control plane runs a CA, so a proxy proves its identity with \`authorization: Bearer TOKEN\` (trellis run does it; trellis proxy --ca-token-file FILE, from \`trellis token create\`)` };
    }
    const result = authn.authenticate(token, { id: node.id, metadata: node.metadata });
    return result instanceof Promise ? result.then((r) => judge(ctx, r, streams, entries)) : judge(ctx, result, streams, entries);
  };
}

function judge({ node }: StreamContext, result: AuthnResult, streams: () => ConnectedProxy[], entries: EntryResolver): StreamVerdict {
  if (!result.ok) return { ok: false, code: grpc.status.UNAUTHENTICATED, message: `node ${node.id}: ${result.error}` };
  const { identity: proven, credential } = result.caller;
  let scope = result.caller.scope;
  if (scope.workloadEntry !== undefined) {
    const entry = entries(proven.namespace, scope.workloadEntry);
    if (!entry) return { ok: false, code: grpc.status.PERMISSION_DENIED, message: `node ${node.id}: its ${credential} names WorkloadEntry ${proven.namespace}/${scope.workloadEntry}, which does not exist; create it first` };
    scope = entry;
  }
  const ns = typeof node.metadata.NAMESPACE === "string" ? node.metadata.NAMESPACE : "default";
  const sa = typeof node.metadata.SERVICE_ACCOUNT === "string" ? node.metadata.SERVICE_ACCOUNT : "default";
  if (ns !== proven.namespace || sa !== proven.serviceAccount) {
    return { ok: false, code: grpc.status.PERMISSION_DENIED, message: `node ${node.id} claims namespace ${ns} and service account ${sa} but its ${credential} proves ${proven.namespace}/${proven.serviceAccount}; run it with a ${credential} for its own identity` };
  }
  const beyond = exceedsScope(node.id, node.metadata, scope, credential);
  if (beyond) return { ok: false, code: grpc.status.PERMISSION_DENIED, message: beyond };
  const identity = spiffeId(proven);
  const holder = streams().find((p) => p.node.id === node.id && p.identity !== identity);
  if (holder) {
    return { ok: false, code: grpc.status.ALREADY_EXISTS, message: `node id ${node.id} is held by a stream of ${holder.identity ?? "an unauthenticated proxy"}; another identity cannot take it over (give each proxy its own node id)` };
  }
  return { ok: true, identity };
}
