// The Secrets Istio Gateways serve, after istioctl analyze's gateway secret checks: a credentialName with no Secret in
// the namespace of the gateway's workloads (IST0101), and a Secret the gateway cannot serve (IST0161): certificate or
// key missing, a certificate that does not parse or has expired, a key that is not the certificate's. Checked only
// when Secrets are among the inputs (a live cluster, or files that include them) and the gateway's workloads are known.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { isGatewayApi } from "../../kinds.js";
import type { LoadedResource } from "../../load.js";
import { matchesLabels, type MeshContext } from "../../mesh-context.js";
import { asArray, asObject, type Report } from "../reporter.js";
import { type KubeObject, nameOf, namespaceOf, obj, ofKind } from "./objects.js";

/** A Secret's certificate and key, in either layout Istio reads: kubernetes.io/tls (tls.crt/tls.key) or cert/key. */
function pemPair(secret: KubeObject): { cert?: string; key?: string } {
  const data = obj(secret.data);
  const text = (k: string) => (typeof data[k] === "string" ? Buffer.from(data[k] as string, "base64").toString("utf8") : undefined);
  return { cert: text("tls.crt") ?? text("cert"), key: text("tls.key") ?? text("key") };
}

/** Why a Secret cannot be served, or undefined when it can. Never quotes the Secret's data. */
export function credentialProblem(secret: KubeObject, now = new Date()): string | undefined {
  const { cert, key } = pemPair(secret);
  if (!cert || !key) return `has no ${!cert ? "certificate (tls.crt or cert)" : "private key (tls.key or key)"}`;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    return "holds a certificate that is not PEM X.509";
  }
  if (new Date(x509.validTo) < now) return `holds a certificate that expired on ${x509.validTo}`;
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) return "holds a private key that is not the certificate's";
  } catch {
    return "holds a private key that is not PEM";
  }
  return undefined;
}

export function analyzeGatewayCredentials(resources: LoadedResource[], mesh: MeshContext, others: KubeObject[], report: Report): void {
  const secrets = ofKind(others, "Secret");
  if (secrets.length === 0 || !mesh.workloadsKnown) return;
  const byKey = new Map(secrets.map((s) => [`${namespaceOf(s)}/${nameOf(s)}`, s]));
  for (const gw of resources.filter((r) => r.kind === "Gateway" && !isGatewayApi(r))) {
    const selector = asObject(asObject(gw.spec).selector) as Record<string, string>;
    // The Secret lives with the gateway's workloads, not with the Gateway resource.
    const namespace = mesh.workloads.find((w) => matchesLabels(selector, w.labels))?.namespace;
    if (namespace === undefined) continue;
    asArray(asObject(gw.spec).servers).forEach((server, i) => {
      const name = asObject(asObject(server).tls).credentialName;
      if (typeof name !== "string" || name === "") return;
      const path = `spec.servers[${i}].tls.credentialName`;
      const secret = byKey.get(`${namespace}/${name}`);
      if (!secret) return report(gw, "TRL1045", path, `no Secret ${name} in namespace ${namespace}, where the gateway's workloads run, so this server has no certificate; create it there (kubectl create secret tls ${name} -n ${namespace} ...)`);
      const problem = credentialProblem(secret);
      if (problem) report(gw, "TRL1046", path, `Secret ${namespace}/${name} ${problem}, so the gateway cannot serve this server; replace the Secret`);
    });
  }
}
