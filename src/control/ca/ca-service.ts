// The CSR endpoint: IstioCertificateService/CreateCertificate over gRPC, authenticated by a bootstrap token.
import type { SecureContextOptions } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from "../../identity/ca-api.js";
import { generateKeyPair, signLeaf } from "../../identity/x509.js";
import { type CertificateAuthority, CaError } from "./authority.js";
import type { TokenIssuer } from "./tokens.js";
import { tokenAuthenticator, type WorkloadAuthenticator } from "./workload-authenticator.js";

export interface CaServiceEvents {
  /** Called per decision, with no secret in it (never the token or key). */
  onDecision?(decision: { ok: boolean; identity?: string; reason?: string; peer: string }): void;
}

export function bearer(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  if (typeof value !== "string") return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(value);
  return m ? m[1] : undefined;
}

/** `tokens`: our bootstrap tokens, or another authenticator (Kubernetes' TokenReview). */
export function addCaService(server: grpc.Server, ca: CertificateAuthority, tokens: TokenIssuer | WorkloadAuthenticator, events: CaServiceEvents = {}): void {
  const authn = "authenticate" in tokens ? tokens : tokenAuthenticator(tokens);
  server.addService(caServiceDefinition, {
    CreateCertificate: async (call: grpc.ServerUnaryCall<CertificateRequest, CertificateResponse>, callback: grpc.sendUnaryData<CertificateResponse>) => {
      const peer = call.getPeer();
      const deny = (code: grpc.status, reason: string) => {
        events.onDecision?.({ ok: false, reason, peer });
        callback({ code, details: reason });
      };
      const token = bearer(call.metadata);
      if (!token) return deny(grpc.status.UNAUTHENTICATED, "no bootstrap token: send `authorization: Bearer TOKEN` (create one with `trellis token create`)");
      let verdict;
      try {
        verdict = await authn.authenticate(token);
      } catch (err) {
        // The authenticator could not decide (the API server is away): a retryable status, never a crash.
        return deny(grpc.status.UNAVAILABLE, `cannot check the token now: ${(err as Error).message}`);
      }
      if (!verdict.ok) return deny(grpc.status.UNAUTHENTICATED, verdict.error);
      const { identity } = verdict.caller;
      const ttlMs = Number(call.request.validity_duration) * 1000;
      ca.sign(call.request.csr, identity, ttlMs).then(
        (chain) => {
          events.onDecision?.({ ok: true, identity: `${identity.namespace}/${identity.serviceAccount}`, peer });
          callback(null, { cert_chain: chain });
        },
        (err: Error) => {
          const code = err instanceof CaError && err.code === "TRELLIS_CA_IDENTITY_MISMATCH" ? grpc.status.PERMISSION_DENIED : grpc.status.INVALID_ARGUMENT;
          deny(code, err.message);
        },
      );
    },
  });
}

/** DNS names the control plane's serving certificate carries (Istio's istiod names, so clients may verify either). */
export const CONTROL_PLANE_DNS_NAMES = ["istiod.istio-system.svc", "trellis-control", "localhost"];

/**
 * Server credentials whose certificate is replaced while the server runs: new handshakes get the new one, open
 * connections keep theirs. grpc-js re-reads a credential's secure context when it changes.
 */
class RotatingServerCredentials extends grpc.ServerCredentials {
  constructor(context: SecureContextOptions) {
    super({ requestCert: false }, context);
  }

  rotate(context: SecureContextOptions): void {
    this.updateSecureContextOptions(context);
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

async function issueServingCert(ca: CertificateAuthority, lifetimeMs: number): Promise<{ certPem: string; keyPem: string; context: SecureContextOptions }> {
  const keys = await generateKeyPair();
  const certPem = await signLeaf({
    publicKey: keys.publicKey,
    uris: [`spiffe://${ca.trustDomain}/ns/istio-system/sa/istiod`],
    dnsNames: CONTROL_PLANE_DNS_NAMES,
    ipAddresses: ["127.0.0.1", "::1"],
    lifetimeMs,
    ...ca.signer(),
  });
  return { certPem, keyPem: keys.keyPem, context: { cert: certPem + ca.intermediatesPem(), key: keys.keyPem } };
}

export interface ServingCredentials {
  credentials: grpc.ServerCredentials;
  certPem: string;
  keyPem: string;
  /** Signs a fresh serving certificate now (after a root rotation); renewal at half-life goes on by itself. */
  renew(): Promise<void>;
  stop(): void;
}

/** TLS credentials for 15012, with a serving certificate the CA signs for the control plane itself and renews at half-life. */
export async function controlPlaneCredentials(ca: CertificateAuthority, lifetimeMs: number, onError: (err: Error) => void = () => {}): Promise<ServingCredentials> {
  const first = await issueServingCert(ca, lifetimeMs);
  const credentials = new RotatingServerCredentials(first.context);
  let timer: NodeJS.Timeout | undefined;
  const out: ServingCredentials = {
    credentials, certPem: first.certPem, keyPem: first.keyPem,
    renew: async () => {
      const next = await issueServingCert(ca, lifetimeMs);
      credentials.rotate(next.context);
      out.certPem = next.certPem;
      out.keyPem = next.keyPem;
      schedule(lifetimeMs / 2);
    },
    stop: () => clearTimeout(timer),
  };
  const schedule = (delayMs: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => out.renew().catch((err: Error) => { onError(err); schedule(Math.min(60_000, lifetimeMs / 10)); }), delayMs);
    timer.unref();
  };
  schedule(lifetimeMs / 2);
  return out;
}
