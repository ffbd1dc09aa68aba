// TLS secrets the control plane keeps for gateways in universal mode (Kubernetes Secrets play this part on
// Kubernetes): one file per secret under STATE_DIR/secrets/NAMESPACE/, 0600 in 0700 directories since it holds a
// private key, written atomically. A secret is checked when written (PEM that parses, a key that matches its
// certificate, a CA that parses) and again when used (a certificate outside its validity is not served).
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CredentialMaterial } from "../translate/gateway-tls.js";

export class SecretError extends Error {
  constructor(message: string, readonly code: "TRELLIS_SECRET_INVALID" | "TRELLIS_SECRET_NOT_FOUND", options?: ErrorOptions) {
    super(message, options);
  }
}

export interface StoredSecret extends CredentialMaterial {
  namespace: string;
  name: string;
}

/** What may be shown about a secret: never its key. */
export interface SecretSummary {
  namespace: string;
  name: string;
  type: "kubernetes.io/tls";
  subject: string;
  dnsNames: string[];
  notBefore: string;
  notAfter: string;
  hasCaCertificate: boolean;
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function certificates(pem: string, field: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new SecretError(`${field}: no PEM certificate (-----BEGIN CERTIFICATE-----) found`, "TRELLIS_SECRET_INVALID");
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new SecretError(`${field}: certificate ${i + 1} does not parse: ${(err as Error).message}`, "TRELLIS_SECRET_INVALID", { cause: err });
    }
  });
}

/** Throws a SecretError naming the field when the material cannot serve TLS. */
export function checkMaterial(m: CredentialMaterial): X509Certificate {
  const [leaf] = certificates(m.certPem, "cert");
  let key;
  try {
    key = createPrivateKey(m.keyPem);
  } catch (err) {
    throw new SecretError(`key: not a PEM private key: ${(err as Error).message}`, "TRELLIS_SECRET_INVALID", { cause: err });
  }
  if (!leaf.checkPrivateKey(key)) throw new SecretError("key: does not belong to the certificate (its public key differs); give the certificate's own key", "TRELLIS_SECRET_INVALID");
  if (m.caPem !== undefined) certificates(m.caPem, "cacert");
  return leaf;
}

export function summarize(s: StoredSecret): SecretSummary {
  const leaf = new X509Certificate(s.certPem);
  return {
    namespace: s.namespace, name: s.name, type: "kubernetes.io/tls", subject: (leaf.subject ?? "").replace(/\n/g, ", "),
    dnsNames: (leaf.subjectAltName ?? "").split(/,\s*/).filter((e) => e.startsWith("DNS:")).map((e) => e.slice(4)),
    notBefore: new Date(leaf.validFrom).toISOString(), notAfter: new Date(leaf.validTo).toISOString(), hasCaCertificate: s.caPem !== undefined,
  };
}

export class SecretStore {
  private readonly items = new Map<string, StoredSecret>();

  constructor(private readonly dir: string, private readonly onChange: () => void, log: (line: string) => void = () => {}) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const ns of readdirSync(dir)) {
      if (!NAME.test(ns)) continue;
      for (const f of readdirSync(join(dir, ns))) {
        if (!f.endsWith(".json")) continue;
        try {
          const s = JSON.parse(readFileSync(join(dir, ns, f), "utf8")) as StoredSecret;
          this.items.set(`${s.namespace}/${s.name}`, s);
        } catch (err) {
          log(`trellis control: ignoring unreadable secret ${join(dir, ns, f)}: ${(err as Error).message}`);
        }
      }
    }
  }

  /** Creates or replaces (a rotation: gateways get the new certificate over SDS, no restart). */
  put(s: StoredSecret): SecretSummary {
    if (!NAME.test(s.namespace)) throw new SecretError(`namespace "${s.namespace}" is not a DNS-1123 name (lowercase letters, digits, -, .)`, "TRELLIS_SECRET_INVALID");
    if (!NAME.test(s.name)) throw new SecretError(`name "${s.name}" is not a DNS-1123 name (lowercase letters, digits, -, .)`, "TRELLIS_SECRET_INVALID");
    checkMaterial(s);
    const stored: StoredSecret = { namespace: s.namespace, name: s.name, certPem: s.certPem, keyPem: s.keyPem, ...(s.caPem !== undefined ? { caPem: s.caPem } : {}) };
    const nsDir = join(this.dir, s.namespace);
    mkdirSync(nsDir, { recursive: true, mode: 0o700 });
    const file = join(nsDir, `${s.name}.json`);
    writeFileSync(`${file}.tmp`, JSON.stringify(stored), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    this.items.set(`${s.namespace}/${s.name}`, stored);
    this.onChange();
    return summarize(stored);
  }

  delete(namespace: string, name: string): void {
    if (!this.items.delete(`${namespace}/${name}`)) throw new SecretError(`secret ${namespace}/${name} not found`, "TRELLIS_SECRET_NOT_FOUND");
    rmSync(join(this.dir, namespace, `${name}.json`), { force: true });
    this.onChange();
  }

  list(namespace?: string): SecretSummary[] {
    return [...this.items.values()].filter((s) => !namespace || s.namespace === namespace).sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)).map(summarize);
  }

  get(namespace: string, name: string): StoredSecret | undefined {
    return this.items.get(`${namespace}/${name}`);
  }

  /** A gateway's credentialName: the material, or why it cannot be served now (missing, or outside its validity). */
  lookup(namespace: string, name: string, now = Date.now()): { material?: CredentialMaterial; error?: string } {
    const s = this.items.get(`${namespace}/${name}`);
    if (!s) return { error: `no secret ${namespace}/${name} (create it: trellis secret create tls ${name} -n ${namespace} --cert FILE --key FILE)` };
    const leaf = new X509Certificate(s.certPem);
    if (Date.parse(leaf.validTo) <= now) return { error: `secret ${namespace}/${name}: its certificate expired on ${new Date(leaf.validTo).toISOString()}` };
    if (Date.parse(leaf.validFrom) > now) return { error: `secret ${namespace}/${name}: its certificate is not valid before ${new Date(leaf.validFrom).toISOString()}` };
    return { material: { certPem: s.certPem, keyPem: s.keyPem, ...(s.caPem !== undefined ? { caPem: s.caPem } : {}) } };
  }
}
