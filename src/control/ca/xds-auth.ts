// Who may open an xDS stream, and as whom. A stream registers a workload from its node metadata, so believing that
// metadata unchecked would let any process claim any service (and switch mutual TLS off toward it). With the CA on,
// every stream proves an identity with its bootstrap token (as Istio's agents send their JWT to istiod on 15012),
// and the node must claim that same namespace and service account. Plaintext xDS is served to loopback peers only.
import * as grpc from "@grpc/grpc-js";
import type { StreamContext, StreamVerdict } from "../../xds/ads-server.js";
import { spiffeId } from "../../identity/spiffe.js";
import type { TokenIssuer } from "./tokens.js";
import { bearer } from "./ca-service.js";

function isLoopbackPeer(peer: string): boolean {
  const host = peer.startsWith("[") ? peer.slice(1, peer.indexOf("]")) : peer.slice(0, peer.lastIndexOf(":"));
  return /^127\./.test(host) || host === "::1" || host === "::ffff:127.0.0.1" || host === "localhost";
}

/** `tokens` is undefined when the control plane runs no CA: the mesh then has no identities to prove. */
export function xdsAuthorizer(tokens: TokenIssuer | undefined): (ctx: StreamContext) => StreamVerdict {
  return ({ node, metadata, secure, peerAddress }) => {
    if (!secure && !isLoopbackPeer(peerAddress)) {
      return { ok: false, code: grpc.status.UNAUTHENTICATED, message: `plaintext xDS is served to loopback peers only (${peerAddress} is not): connect over TLS to the CA port (15012) with a bootstrap token` };
    }
    if (!tokens) return { ok: true };
    const token = bearer(metadata);
    if (!token) {
      return { ok: false, code: grpc.status.UNAUTHENTICATED, message: `node ${node.id} sent no bootstrap token: this control plane runs a CA, so a proxy proves its identity with \`authorization: Bearer TOKEN\` (trellis run does it; trellis proxy --ca-token-file FILE, from \`trellis token create\`)` };
    }
    const verdict = tokens.verify(token);
    if (!verdict.ok) return { ok: false, code: grpc.status.UNAUTHENTICATED, message: `node ${node.id}: ${verdict.error}` };
    const ns = typeof node.metadata.NAMESPACE === "string" ? node.metadata.NAMESPACE : "default";
    const sa = typeof node.metadata.SERVICE_ACCOUNT === "string" ? node.metadata.SERVICE_ACCOUNT : "default";
    const { namespace, serviceAccount } = verdict.identity;
    if (ns !== namespace || sa !== serviceAccount) {
      return { ok: false, code: grpc.status.PERMISSION_DENIED, message: `node ${node.id} claims namespace ${ns} and service account ${sa} but its token proves ${namespace}/${serviceAccount}; run it with a token for its own identity` };
    }
    return { ok: true, identity: spiffeId(verdict.identity) };
  };
}
