// The seam between "who is asking" and the xDS/CA checks: an authenticator turns a stream's bearer credential into an
// identity and the registration scope that identity may claim. Universal mode verifies our bootstrap tokens (below);
// Kubernetes mode plugs in its own (TokenReview for the identity, the pod's service and labels for the scope), and
// may answer asynchronously.
import type { Identity } from "../../identity/spiffe.js";
import type { RegistrationScope } from "./registration-scope.js";
import type { TokenIssuer } from "./tokens.js";

export interface ProvenCaller {
  identity: Identity;
  /** What this caller may register: checked against the proxy's node metadata. */
  scope: RegistrationScope;
  /** How it proved itself, for messages ("token", "pod"). */
  credential: string;
}

export type AuthnResult = { ok: true; caller: ProvenCaller } | { ok: false; error: string };

export interface WorkloadAuthenticator {
  /** `node` is the proxy's node (id and metadata) when the credential comes with one (xDS), for pod lookups. */
  authenticate(credential: string, node?: { id: string; metadata: Record<string, unknown> }): AuthnResult | Promise<AuthnResult>;
}

/** Universal mode: the bootstrap token proves the identity and carries its scope (svc, lbl claims). */
export function tokenAuthenticator(tokens: TokenIssuer): WorkloadAuthenticator {
  return {
    authenticate(credential) {
      const v = tokens.verify(credential);
      return v.ok ? { ok: true, caller: { identity: v.identity, scope: v.scope, credential: "token" } } : v;
    },
  };
}
