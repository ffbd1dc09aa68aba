// Istio's rules for a server's TLS settings (Gateway servers, Sidecar ingress), after istio/istio
// pkg/config/validation validateTLSOptions: what each mode requires and excludes.
import { arr, has, Problems } from "./problems.js";

export function serverTls(p: Problems, tls: Record<string, unknown>, at: string): void {
  const files = ["serverCertificate", "privateKey", "caCertificates", "credentialName", "credentialNames", "tlsCertificates"];
  if (tls.mode === "ISTIO_MUTUAL") {
    for (const f of files) if (has(tls[f])) p.error(`${at}.${f}`, "ISTIO_MUTUAL uses the mesh's own certificates; remove this field", "TRL0019");
    return;
  }
  // An unset mode is PASSTHROUGH, the enum's zero value, as Istio reads it.
  if (tls.mode === undefined || tls.mode === "PASSTHROUGH" || tls.mode === "AUTO_PASSTHROUGH") {
    if ([...files, "caCrl"].some((f) => has(tls[f]))) p.warn(at, `${String(tls.mode ?? "PASSTHROUGH")} does not terminate TLS, so its certificates are ignored`);
    return;
  }
  const sources = [has(tls.serverCertificate) && has(tls.privateKey), has(tls.credentialName), has(tls.credentialNames), has(tls.tlsCertificates)].filter(Boolean).length;
  if (sources > 1) p.error(at, "set only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates", "TRL0019");
  const mode = String(tls.mode);
  if (!["SIMPLE", "MUTUAL", "OPTIONAL_MUTUAL"].includes(mode)) return;
  if (has(tls.caCrl) && has(tls.credentialName)) p.error(`${at}.caCrl`, "cannot be used with credentialName; put the CRL in the credential", "TRL0019");
  if (has(tls.caCrl) && mode === "SIMPLE") p.error(`${at}.caCrl`, "has no use with SIMPLE TLS (no client certificates are checked)", "TRL0019");
  if (has(tls.credentialName) || has(tls.credentialNames)) return;
  if (mode !== "SIMPLE" && !has(tls.caCertificates)) p.error(`${at}.caCertificates`, `${mode} TLS needs a client CA bundle (or a credentialName)`, "TRL0012");
  const certs = arr(tls.tlsCertificates).length ? arr(tls.tlsCertificates).map((c) => c as Record<string, unknown>) : [tls];
  certs.forEach((c, i) => {
    const where = arr(tls.tlsCertificates).length ? `${at}.tlsCertificates[${i}]` : at;
    if (!has(c.serverCertificate)) p.error(`${where}.serverCertificate`, `${mode} TLS needs a server certificate (or a credentialName)`, "TRL0012");
    if (!has(c.privateKey)) p.error(`${where}.privateKey`, `${mode} TLS needs a private key (or a credentialName)`, "TRL0012");
  });
}
