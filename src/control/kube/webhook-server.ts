// The validating admission webhook the API server calls for Istio's kinds (as istiod's on /validate): an
// AdmissionReview v1 in, allowed or refused with the same field paths and words `trellis apply` gets from the REST API
// (both call src/api's validateResource); and, when configured, the sidecar injector on /inject (inject/). Served over TLS with a certificate from the mesh CA, renewed at half-life.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { validateResource } from "../../api/analyze.js";
import { kindFor } from "../../api/kinds.js";
import type { IstioResource } from "../../api/resource.js";
import type { CertificateAuthority } from "../ca/authority.js";
import { generateKeyPair, signLeaf } from "../../identity/x509.js";
import { admitInjection, INJECT_PATH } from "./inject/inject-admission.js";
import type { InjectSettings } from "./inject/inject-settings.js";

export const WEBHOOK_PATH = "/validate";
const MAX_BODY = 3 * 1024 * 1024; // the API server's own request limit for an object is 3 MiB

interface AdmissionRequest {
  uid?: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  name?: string;
  namespace?: string;
  object?: unknown;
}

interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  warnings?: string[];
}

/** The decision for one AdmissionReview request. Pure: the table of what is allowed lives here. */
export function admit(request: AdmissionRequest): AdmissionResponse {
  const uid = typeof request.uid === "string" ? request.uid : "";
  const refuse = (message: string, code = 400, reason = "Invalid"): AdmissionResponse => ({ uid, allowed: false, status: { code, reason, message } });
  // A delete carries no object to judge (the rules do not send deletes; an old configuration might).
  if (request.operation === "DELETE") return { uid, allowed: true };
  const obj = request.object;
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return refuse("admission request.object is not an object: the webhook cannot parse it", 400, "BadRequest");
  const r = obj as IstioResource;
  if (typeof r.apiVersion !== "string" || typeof r.kind !== "string") return refuse("admission request.object has no apiVersion and kind: the webhook cannot parse it", 400, "BadRequest");
  const info = kindFor(r.apiVersion, r.kind);
  if (!info) return refuse(`${r.kind} ${r.apiVersion} is not a kind Trellis validates or serves; remove it from the ValidatingWebhookConfiguration's rules or use a served version`, 400, "BadRequest");
  const metadata = (r.metadata && typeof r.metadata === "object" ? r.metadata : {}) as IstioResource["metadata"];
  const name = metadata.name || request.name || "";
  const namespace = metadata.namespace || request.namespace || "default";
  const resource: IstioResource = { ...r, metadata: { ...metadata, name, namespace } };
  const findings = validateResource(resource);
  const errors = findings.filter((f) => f.level === "Error");
  // The REST API's words, so a refusal reads the same through kubectl as through trellis apply.
  if (errors.length) return refuse(`${info.kind} ${namespace}/${name} is invalid: ${errors.map((e) => `${e.path ?? ""}: ${e.message}`).join("; ")}`);
  const warnings = findings.filter((f) => f.level === "Warning").map((f) => `[${f.code}] ${f.path ? `${f.path}: ` : ""}${f.message}`);
  return { uid, allowed: true, ...(warnings.length ? { warnings } : {}) };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error(`the body is larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, o: WebhookServerOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "https://webhook");
  const inject = o.inject && url.pathname === INJECT_PATH ? o.inject : undefined;
  if (url.pathname !== WEBHOOK_PATH && !inject) return reply(res, 404, { message: `no webhook at ${url.pathname}; the validating webhook is ${WEBHOOK_PATH}${o.inject ? `, the injector ${INJECT_PATH}` : ""}` });
  if (req.method !== "POST") return reply(res, 405, { message: `${req.method} is not supported; the API server POSTs an AdmissionReview` });
  let review: { apiVersion?: string; kind?: string; request?: AdmissionRequest };
  try {
    review = JSON.parse(await readBody(req)) as typeof review;
  } catch (err) {
    // Not an AdmissionReview at all: no uid to answer to, so an HTTP error the API server reports as the call's failure.
    return reply(res, 400, { message: `the webhook cannot parse the body as an AdmissionReview: ${(err as Error).message}` });
  }
  if (!review || typeof review !== "object" || review.kind !== "AdmissionReview" || review.apiVersion !== "admission.k8s.io/v1" || !review.request || typeof review.request !== "object") {
    return reply(res, 400, { message: "the body is not an admission.k8s.io/v1 AdmissionReview with a request; register the webhook with admissionReviewVersions [v1]" });
  }
  const response = inject ? admitInjection(review.request, inject.settings(), o.log) : admit(review.request);
  reply(res, 200, { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response });
}

export interface WebhookServerOptions {
  ca: CertificateAuthority;
  host?: string;
  port?: number;
  /** Names the API server may dial the webhook by (istiod.NS.svc, a configured host); loopback IPs are always in. */
  dnsNames: string[];
  lifetimeMs?: number;
  log?(line: string): void;
  /** Sidecar injection on /inject with these settings (read per request); undefined = no injector. */
  inject?: { settings(): InjectSettings };
}

/** A serving certificate from the mesh CA for the webhook's names; chain includes the intermediates. */
async function servingContext(o: WebhookServerOptions): Promise<{ cert: string; key: string }> {
  const keys = await generateKeyPair();
  const leaf = await signLeaf({
    publicKey: keys.publicKey,
    uris: [`spiffe://${o.ca.trustDomain}/ns/istio-system/sa/istiod`],
    dnsNames: o.dnsNames,
    ipAddresses: ["127.0.0.1", "::1"],
    lifetimeMs: o.lifetimeMs ?? 24 * 3600_000,
    ...o.ca.signer(),
  });
  return { cert: leaf + o.ca.intermediatesPem(), key: keys.keyPem };
}

export interface WebhookServer {
  port: number;
  /** New certificate now (after a root rotation), then again at half-life. */
  renew(): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const log = o.log ?? ((l: string) => console.error(l));
  const lifetime = o.lifetimeMs ?? 24 * 3600_000;
  const server: Server = createServer({ ...(await servingContext(o)), minVersion: "TLSv1.2" }, (req, res) => {
    handle(req, res, o).catch((err: Error) => reply(res, 500, { message: `webhook: ${err.message}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(new Error(`validating webhook: cannot bind ${o.host ?? "127.0.0.1"}:${o.port ?? 15017}: ${e.message}`)));
    server.listen(o.port ?? 15017, o.host ?? "127.0.0.1", () => resolve());
  });
  let timer: NodeJS.Timeout | undefined;
  const schedule = (ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => out.renew().catch((err: Error) => { log(`trellis control: cannot renew the webhook's certificate, will retry: ${err.message}`); schedule(Math.min(60_000, lifetime / 10)); }), ms);
    timer.unref();
  };
  const out: WebhookServer = {
    port: (server.address() as { port: number }).port,
    renew: async () => {
      server.setSecureContext({ ...(await servingContext(o)), minVersion: "TLSv1.2" });
      schedule(lifetime / 2);
    },
    close: async () => {
      clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  schedule(lifetime / 2);
  return out;
}
