// `trellis secret`: gateway TLS secrets kept by the control plane in universal mode (what `kubectl create secret tls`
// does on Kubernetes): create or replace (a rotation), list, delete. Gateway servers name them as credentialName.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { call, controlAddress } from "./rest-client.js";

const USAGE = `usage: trellis secret create tls NAME --cert FILE --key FILE [--cacert FILE] [-n NAMESPACE] [--control ADDR]
       trellis secret get [NAME] [-n NAMESPACE] [--control ADDR]
       trellis secret delete NAME [-n NAMESPACE] [--control ADDR]

A TLS secret for a gateway server's credentialName: the server certificate (chain) and its private key, PEM, and
for MUTUAL servers the CA that signs the clients' certificates (--cacert). The control plane checks the key belongs
to the certificate, keeps the secret under its state directory (0600) and serves it to the gateways of NAMESPACE
over SDS; create it again with new files to rotate the certificate, without restarting anything. NAMESPACE is the
gateway's (default istio-system, where \`trellis gateway\` runs). Reading a secret shows its subject, names and
validity, never the key.`;

function readPem(flag: string, file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: {
      cert: { type: "string" }, key: { type: "string" }, cacert: { type: "string" },
      namespace: { type: "string", short: "n", default: "istio-system" }, control: { type: "string" }, help: { type: "boolean", short: "h" },
    } });
  } catch (err) {
    console.error(`trellis secret: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) { console.log(USAGE); return 0; }
  const [verb, ...rest] = positionals;
  const ns = encodeURIComponent(values.namespace!);
  const base = controlAddress(values.control);
  let res;
  try {
    if (verb === "create") {
      if (rest[0] !== "tls" || rest.length !== 2) throw new UsageError("create takes: tls NAME (only TLS secrets are kept)");
      if (!values.cert || !values.key) throw new UsageError("create tls needs --cert FILE and --key FILE");
      const stringData = { "tls.crt": readPem("--cert", values.cert)!, "tls.key": readPem("--key", values.key)!, ...(values.cacert ? { "ca.crt": readPem("--cacert", values.cacert)! } : {}) };
      res = await call(base, "PUT", `/api/v1/namespaces/${ns}/secrets/${encodeURIComponent(rest[1])}`, { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: rest[1], namespace: values.namespace }, stringData });
      if (res.status === 200) console.log(`secret/${rest[1]} in ${values.namespace}: stored (certificate for ${(res.body.dnsNames as string[]).join(", ") || res.body.subject}, valid until ${res.body.notAfter}${res.body.hasCaCertificate ? ", with a client CA" : ""})`);
    } else if (verb === "get") {
      if (rest.length > 1) throw new UsageError("get takes at most one NAME");
      res = await call(base, "GET", `/api/v1/namespaces/${ns}/secrets${rest[0] ? `/${encodeURIComponent(rest[0])}` : ""}`);
      if (res.status === 200) console.log(JSON.stringify(rest[0] ? res.body : res.body.items, null, 2));
    } else if (verb === "delete") {
      if (rest.length !== 1) throw new UsageError("delete takes one NAME");
      res = await call(base, "DELETE", `/api/v1/namespaces/${ns}/secrets/${encodeURIComponent(rest[0])}`);
      if (res.status === 200) console.log(`secret/${rest[0]} in ${values.namespace}: deleted`);
    } else {
      throw new UsageError(`unknown subcommand "${verb ?? ""}" (create, get, delete)`);
    }
  } catch (err) {
    console.error(`trellis secret: ${(err as Error).message}${err instanceof UsageError ? `\n\n${USAGE}` : ""}`);
    return err instanceof UsageError ? 2 : 1;
  }
  if (res.status === 200) return 0;
  console.error(`trellis secret: ${String(res.body.message ?? `HTTP ${res.status}`)}`);
  return 1;
}

class UsageError extends Error {}
