// The CA's state and its root rotation over the REST API (`trellis ca`):
//   GET  /api/v1/ca                    mode, trust domain, the roots in the bundle (signing one first)
//   POST /api/v1/ca/root-rotation      {"action": "start"} or {"action": "finish", "force"?: true}
// Start: a new root signs from now on and the bundle (pushed to every proxy as SDS ROOTCA) trusts both; proxies
// renew their certificates from the new root when they see it. Finish drops the old root, but only once every
// connected proxy holds a certificate from the new one (as its admin's /certs says), unless forced: dropping it
// earlier would cut those proxies off.
import { X509Certificate } from "node:crypto";
import type { CertificateAuthority } from "../ca/authority.js";
import { splitPem } from "../../identity/x509.js";
import { fetchAdmin } from "./proxy-config-api.js";
import { bodyError, readBody, send, status, type ApiRoute } from "./rest-api.js";

export interface CaApiDeps {
  authority(): CertificateAuthority | undefined;
  /** Connected proxies that proved an identity, with where their admin listens. */
  proxies(): Array<{ id: string; admin?: string }>;
  start(): Promise<void>;
  finish(): Promise<void>;
  /** Why this control plane may not rotate now (Kubernetes mode: it is not the leader); undefined = it may. */
  refusal?(): string | undefined;
}

function describe(ca: CertificateAuthority) {
  const roots = splitPem(ca.rootsPem()).map((pem, i) => {
    const c = new X509Certificate(pem);
    return { sha256: c.fingerprint256, notBefore: new Date(c.validFrom).toISOString(), notAfter: new Date(c.validTo).toISOString(), signing: i === 0 };
  });
  return { mode: ca.mode, trustDomain: ca.trustDomain, rotating: roots.length > 1, roots };
}

/** Proxies whose workload certificate does not come from the signing root, with why. */
async function laggards(deps: CaApiDeps, signing: string): Promise<Array<{ proxy: string; reason: string }>> {
  const out: Array<{ proxy: string; reason: string }> = [];
  await Promise.all(deps.proxies().map(async (p) => {
    if (!p.admin) return void out.push({ proxy: p.id, reason: "it registered no admin address, so its certificate cannot be checked" });
    try {
      const res = await fetchAdmin(p.admin, "/certs");
      const certs = (JSON.parse(res.body) as { certificates?: Array<{ name: string; issuer_root_sha256?: string }> }).certificates ?? [];
      const issuer = certs.find((c) => c.name === "default")?.issuer_root_sha256;
      if (issuer !== signing) out.push({ proxy: p.id, reason: issuer ? `its certificate comes from root ${issuer}` : "it shows no workload certificate" });
    } catch (err) {
      out.push({ proxy: p.id, reason: `its admin ${p.admin} did not answer: ${(err as Error).message}` });
    }
  }));
  return out.sort((a, b) => a.proxy.localeCompare(b.proxy));
}

export function caApi(deps: CaApiDeps): ApiRoute {
  return async (req, res, url) => {
    if (url.pathname !== "/api/v1/ca" && url.pathname !== "/api/v1/ca/root-rotation") return false;
    const ca = deps.authority();
    if (!ca) {
      status(res, 404, "NotFound", "this control plane runs no CA; start it with --ca-port (trellis up does)");
      return true;
    }
    if (url.pathname === "/api/v1/ca") {
      if (req.method !== "GET") status(res, 405, "MethodNotAllowed", "GET /api/v1/ca");
      else send(res, 200, describe(ca));
      return true;
    }
    if (req.method !== "POST") {
      status(res, 405, "MethodNotAllowed", `POST /api/v1/ca/root-rotation with {"action": "start"} or {"action": "finish"}`);
      return true;
    }
    let body: { action?: unknown; force?: unknown };
    try {
      body = (await readBody(req)) as typeof body;
    } catch (err) {
      bodyError(req, res, err as Error);
      return true;
    }
    const state = describe(ca);
    const refused = (body?.action === "start" || body?.action === "finish") ? deps.refusal?.() : undefined;
    if (refused) return status(res, 409, "Conflict", refused), true;
    if (body?.action === "start") {
      if (ca.mode !== "self-signed") return status(res, 409, "Conflict", "a plug-in CA's root is rotated by replacing its files (ca-cert.pem, root-cert.pem with both roots, ...), not by Trellis"), true;
      if (state.rotating) return status(res, 409, "Conflict", "a root rotation is already under way; finish it first"), true;
      await deps.start();
      send(res, 200, describe(ca));
      return true;
    }
    if (body?.action === "finish") {
      if (!state.rotating) return status(res, 409, "Conflict", "no root rotation is under way; start one with {\"action\": \"start\"}"), true;
      if (body.force !== true) {
        const pending = await laggards(deps, state.roots[0].sha256);
        if (pending.length) {
          status(res, 409, "Conflict", `not finished: ${pending.length} proxy(ies) would lose trust: ${pending.map((p) => `${p.proxy} (${p.reason})`).join("; ")}. Wait for them to renew (they do on their own), or force it`);
          return true;
        }
      }
      await deps.finish();
      send(res, 200, describe(ca));
      return true;
    }
    status(res, 400, "BadRequest", `action: ${JSON.stringify(body?.action)} is not "start" or "finish"`);
    return true;
  };
}
