// The REST API for gateway TLS secrets, on Kubernetes' core path and Secret shape (/api/v1/namespaces/NS/secrets/NAME,
// type kubernetes.io/tls with tls.crt, tls.key and optionally ca.crt), so `trellis secret` and kubectl-minded users
// write the same thing. Reads return a summary (subject, names, validity), never the key.
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ApiRoute, readBody, send, status } from "../api/rest-api.js";
import { SecretError, type SecretStore, summarize } from "./secret-store.js";

const PATH = /^\/api\/v1\/(?:namespaces\/([^/]+)\/)?secrets(?:\/([^/]+))?$/;

interface SecretBody {
  kind?: string;
  type?: string;
  metadata?: { name?: string; namespace?: string };
  stringData?: Record<string, string>;
  data?: Record<string, string>;
}

/** The PEM under a key of stringData, or of data (base64, as Kubernetes stores it); Istio's generic keys accepted too. */
function field(body: SecretBody, keys: string[]): string | undefined {
  for (const k of keys) {
    if (typeof body.stringData?.[k] === "string") return body.stringData[k];
    if (typeof body.data?.[k] === "string") return Buffer.from(body.data[k], "base64").toString("utf8");
  }
  return undefined;
}

async function write(store: SecretStore, req: IncomingMessage, res: ServerResponse, namespace: string, name: string | undefined): Promise<void> {
  let body: SecretBody;
  try {
    body = (await readBody(req)) as SecretBody;
  } catch (err) {
    return status(res, 400, "BadRequest", (err as Error).message);
  }
  if (!body || typeof body !== "object" || body.kind !== "Secret") return status(res, 400, "BadRequest", "the body must be a Secret (kind: Secret, type: kubernetes.io/tls, stringData: tls.crt, tls.key[, ca.crt])");
  if (body.type !== undefined && body.type !== "kubernetes.io/tls" && body.type !== "Opaque") return status(res, 400, "BadRequest", `type ${body.type} is not supported: gateway secrets are kubernetes.io/tls (or Opaque with Istio's cert/key/cacert keys)`);
  const secretName = body.metadata?.name;
  if (!secretName) return status(res, 400, "BadRequest", "metadata.name is required");
  if (name && secretName !== name) return status(res, 400, "BadRequest", `metadata.name ${secretName} does not match the path's ${name}`);
  if (body.metadata?.namespace && body.metadata.namespace !== namespace) return status(res, 400, "BadRequest", `metadata.namespace ${body.metadata.namespace} does not match the path's ${namespace}`);
  const certPem = field(body, ["tls.crt", "cert"]);
  const keyPem = field(body, ["tls.key", "key"]);
  const caPem = field(body, ["ca.crt", "cacert"]);
  if (!certPem) return status(res, 400, "Invalid", "stringData[\"tls.crt\"] is required: the server certificate (chain), PEM");
  if (!keyPem) return status(res, 400, "Invalid", "stringData[\"tls.key\"] is required: the certificate's private key, PEM");
  try {
    send(res, 200, store.put({ namespace, name: secretName, certPem, keyPem, ...(caPem !== undefined ? { caPem } : {}) }));
  } catch (err) {
    if (err instanceof SecretError) return status(res, 400, "Invalid", `secret ${namespace}/${secretName}: ${err.message}`);
    throw err;
  }
}

export function secretApi(store: SecretStore): ApiRoute {
  return async (req, res, url) => {
    const m = PATH.exec(url.pathname);
    if (!m) return false;
    const namespace = m[1] ? decodeURIComponent(m[1]) : undefined;
    const name = m[2] ? decodeURIComponent(m[2]) : undefined;
    switch (req.method) {
      case "GET":
        if (!name) send(res, 200, { kind: "SecretList", items: store.list(namespace) });
        else {
          const s = store.get(namespace ?? "default", name);
          if (s) send(res, 200, summarize(s));
          else status(res, 404, "NotFound", `secret ${namespace ?? "default"}/${name} not found`);
        }
        return true;
      case "POST":
      case "PUT":
        if (!namespace) status(res, 400, "BadRequest", "writes need a namespace: /api/v1/namespaces/NS/secrets[/NAME]");
        else await write(store, req, res, namespace, name);
        return true;
      case "DELETE":
        if (!namespace || !name) { status(res, 400, "BadRequest", "DELETE needs /api/v1/namespaces/NS/secrets/NAME"); return true; }
        try {
          store.delete(namespace, name);
          send(res, 200, { kind: "Status", status: "Success", message: `secret ${namespace}/${name} deleted` });
        } catch (err) {
          if (err instanceof SecretError) status(res, 404, "NotFound", err.message);
          else throw err;
        }
        return true;
      default:
        status(res, 405, "MethodNotAllowed", `${req.method} is not supported on secrets; use GET, PUT, POST or DELETE`);
        return true;
    }
  };
}
