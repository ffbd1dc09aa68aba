// The CSR endpoint: IstioCertificateService/CreateCertificate over gRPC, authenticated by a bootstrap token.
import * as grpc from "@grpc/grpc-js";
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from "../../identity/ca-api.js";
import { generateKeyPair, signLeaf } from "../../identity/x509.js";
import { type CertificateAuthority, CaError } from "./authority.js";
import type { TokenIssuer } from "./tokens.js";

export interface CaServiceEvents {
  /** Called per decision, with no secret in it (never the token or key). */
  onDecision?(decision: { ok: boolean; identity?: string; reason?: string; peer: string }): void;
}

function bearer(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get("authorization")[0];
  if (typeof value !== "string") return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(value);
  return m ? m[1] : undefined;
}

export function addCaService(server: grpc.Server, ca: CertificateAuthority, tokens: TokenIssuer, events: CaServiceEvents = {}): void {
  server.addService(caServiceDefinition, {
    CreateCertificate: (call: grpc.ServerUnaryCall<CertificateRequest, CertificateResponse>, callback: grpc.sendUnaryData<CertificateResponse>) => {
      const peer = call.getPeer();
      const deny = (code: grpc.status, reason: string) => {
        events.onDecision?.({ ok: false, reason, peer });
        callback({ code, details: reason });
      };
      const token = bearer(call.metadata);
      if (!token) return deny(grpc.status.UNAUTHENTICATED, "no bootstrap token: send `authorization: Bearer TOKEN` (create one with `trellis token create`)");
      const verdict = tokens.verify(token);
      if (!verdict.ok) return deny(grpc.status.UNAUTHENTICATED, verdict.error);
      const ttlMs = Number(call.request.validity_duration) * 1000;
      ca.sign(call.request.csr, verdict.identity, ttlMs).then(
        (chain) => {
          events.onDecision?.({ ok: true, identity: `${verdict.identity.namespace}/${verdict.identity.serviceAccount}`, peer });
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

/** TLS credentials for 15012, with a serving certificate the CA signs for the control plane itself. */
export async function controlPlaneCredentials(ca: CertificateAuthority, lifetimeMs: number): Promise<{ credentials: grpc.ServerCredentials; certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const certPem = await signLeaf({
    publicKey: keys.publicKey,
    uris: [`spiffe://${ca.trustDomain}/ns/istio-system/sa/istiod`],
    dnsNames: CONTROL_PLANE_DNS_NAMES,
    ipAddresses: ["127.0.0.1", "::1"],
    lifetimeMs,
    ...ca.signer(),
  });
  const credentials = grpc.ServerCredentials.createSsl(Buffer.from(ca.rootsPem()), [{ private_key: Buffer.from(keys.keyPem), cert_chain: Buffer.from(certPem + ca.intermediatesPem()) }], false);
  return { credentials, certPem, keyPem: keys.keyPem };
}
