// The mesh's certificate authority: a self-made root kept under the state directory, or Istio's plug-in CA files.
import { weakKey } from "./key-strength.js";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Identity, spiffeId, DEFAULT_TRUST_DOMAIN } from "../../identity/spiffe.js";
import { type CryptoKey, createRoot, formatSans, generateKeyPair, importPrivateKey, inspect, parseCsr, signLeaf, splitPem } from "../../identity/x509.js";

const HOUR = 3_600_000;
export const DEFAULT_WORKLOAD_CERT_TTL_MS = 24 * HOUR;
const DEFAULT_MAX_WORKLOAD_CERT_TTL_MS = 90 * 24 * HOUR;
const ROOT_LIFETIME_MS = 10 * 365 * 24 * HOUR;

/** Istio's plug-in CA file names (the `cacerts` secret). */
export const PLUGIN_FILES = { cert: "ca-cert.pem", key: "ca-key.pem", root: "root-cert.pem", chain: "cert-chain.pem" } as const;

export interface CaOptions {
  /** Where a self-made root lives (`STATE_DIR/ca`). */
  dir: string;
  /** A directory holding Istio's plug-in files; when set, Trellis signs with that intermediate instead. */
  pluginDir?: string;
  trustDomain?: string;
  defaultTtlMs?: number;
  maxTtlMs?: number;
}

export class CaError extends Error {
  constructor(readonly code: "TRELLIS_CA_BAD_CSR" | "TRELLIS_CA_IDENTITY_MISMATCH" | "TRELLIS_CA_BAD_TTL" | "TRELLIS_CA_CONFIG", message: string) {
    super(message);
  }
}

function writeSecret(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function readRequired(dir: string, file: string): string {
  const path = join(dir, file);
  if (!existsSync(path)) throw new CaError("TRELLIS_CA_CONFIG", `${path} is missing: a plug-in CA needs ${Object.values(PLUGIN_FILES).join(", ")} in one directory`);
  return readFileSync(path, "utf8");
}

export class CertificateAuthority {
  private constructor(
    readonly trustDomain: string,
    private signingCertPem: string,
    private signingKey: CryptoKey,
    /** Intermediates between the signing cert and the root, as cert-chain.pem gives them (may be empty). */
    private chainPems: string[],
    /** Every root proxies should trust; more than one while a root rotation is under way. */
    private rootPems: string[],
    private readonly options: CaOptions,
    readonly mode: "self-signed" | "plug-in",
  ) {}

  static async open(options: CaOptions): Promise<CertificateAuthority> {
    const trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    if (options.pluginDir) return CertificateAuthority.openPlugin(options, trustDomain);
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    const certPath = join(options.dir, PLUGIN_FILES.cert);
    const keyPath = join(options.dir, PLUGIN_FILES.key);
    const rootPath = join(options.dir, PLUGIN_FILES.root);
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      const keys = await generateKeyPair();
      const root = await createRoot(trustDomain, keys, ROOT_LIFETIME_MS);
      writeSecret(keyPath, keys.keyPem);
      writeFileSync(certPath, root);
      writeFileSync(rootPath, root);
    }
    const certPem = readFileSync(certPath, "utf8");
    const key = await importPrivateKey(readFileSync(keyPath, "utf8"));
    const roots = existsSync(rootPath) ? splitPem(readFileSync(rootPath, "utf8")) : [certPem];
    return new CertificateAuthority(trustDomain, certPem, key, [], roots, options, "self-signed");
  }

  private static async openPlugin(options: CaOptions, trustDomain: string): Promise<CertificateAuthority> {
    const dir = options.pluginDir!;
    const certPem = readRequired(dir, PLUGIN_FILES.cert);
    const keyPem = readRequired(dir, PLUGIN_FILES.key);
    const roots = splitPem(readRequired(dir, PLUGIN_FILES.root));
    const chain = splitPem(readRequired(dir, PLUGIN_FILES.chain));
    let cert;
    try {
      cert = inspect(certPem);
    } catch (err) {
      throw new CaError("TRELLIS_CA_CONFIG", `${join(dir, PLUGIN_FILES.cert)} is not a PEM certificate: ${(err as Error).message}`);
    }
    if (!cert.ca) throw new CaError("TRELLIS_CA_CONFIG", `${join(dir, PLUGIN_FILES.cert)} is not a CA certificate (basicConstraints CA:TRUE is required)`);
    if (roots.length === 0) throw new CaError("TRELLIS_CA_CONFIG", `${join(dir, PLUGIN_FILES.root)} holds no certificate`);
    let key: CryptoKey;
    try {
      key = await importPrivateKey(keyPem);
    } catch (err) {
      throw new CaError("TRELLIS_CA_CONFIG", `${join(dir, PLUGIN_FILES.key)}: ${(err as Error).message}`);
    }
    const { createPrivateKey } = await import("node:crypto");
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new CaError("TRELLIS_CA_CONFIG", `${join(dir, PLUGIN_FILES.key)} is not the key of ${join(dir, PLUGIN_FILES.cert)}`);
    // The chain must lead from the signing cert to one of the roots.
    const links = [cert, ...chain.map((p) => inspect(p)).filter((c) => c.fingerprint256 !== cert.fingerprint256)];
    const top = links[links.length - 1];
    const rootCerts = roots.map((p) => inspect(p));
    if (!rootCerts.some((r) => r.fingerprint256 === top.fingerprint256 || top.checkIssued(r))) {
      throw new CaError("TRELLIS_CA_CONFIG", `${join(dir, PLUGIN_FILES.chain)} does not lead to a root in ${join(dir, PLUGIN_FILES.root)}`);
    }
    const intermediates = chain.filter((p) => inspect(p).fingerprint256 !== cert.fingerprint256 && !rootCerts.some((r) => r.fingerprint256 === inspect(p).fingerprint256));
    // Workloads started from the state dir (trellis run) read the trust bundle there, whichever CA signs.
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(options.dir, PLUGIN_FILES.root), roots.join(""));
    return new CertificateAuthority(trustDomain, certPem, key, intermediates, roots, options, "plug-in");
  }

  /** What signLeaf needs to sign with this CA. */
  signer(): { issuerCertPem: string; issuerKey: CryptoKey } {
    return { issuerCertPem: this.signingCertPem, issuerKey: this.signingKey };
  }

  /** The certificates between a leaf and the root (the signing cert itself when it is an intermediate). */
  intermediatesPem(): string {
    return this.mode === "self-signed" ? "" : [this.signingCertPem, ...this.chainPems].join("");
  }

  /** The trust bundle (PEM) proxies validate peers with. */
  rootsPem(): string {
    return this.rootPems.join("");
  }

  /**
   * Signs a CSR for `identity`, the identity its bootstrap credential proved. The CSR must name exactly that identity
   * as its one SAN (a URI) and must not ask for CA rights: a workload cannot ask for someone else's name, for extra
   * names (DNS, IP, email, ...: they would be dropped, so the requester would not get what it asked for), or to sign.
   * Returns the chain as Istio's CA does: leaf, intermediates, root last.
   */
  async sign(csrPem: string, identity: Identity, ttlMs?: number): Promise<string[]> {
    let csr;
    try {
      csr = await parseCsr(csrPem);
    } catch (err) {
      throw new CaError("TRELLIS_CA_BAD_CSR", (err as Error).message);
    }
    const expected = spiffeId({ ...identity, trustDomain: this.trustDomain });
    const own = csr.sans.filter((s) => s.type === "URI" && s.value === expected);
    if (own.length === 0) {
      throw new CaError("TRELLIS_CA_IDENTITY_MISMATCH", `the CSR asks for ${csr.sans.length ? formatSans(csr.sans) : "no SAN"} but the credential proves ${expected}; request exactly that identity (one URI SAN)`);
    }
    const extra = [...own.slice(1), ...csr.sans.filter((s) => !own.includes(s))];
    if (extra.length) {
      throw new CaError("TRELLIS_CA_IDENTITY_MISMATCH", `the CSR asks for names besides its identity (${formatSans(extra)}); a workload certificate carries only ${expected}: request exactly that one URI SAN`);
    }
    if (csr.caRequest) {
      throw new CaError("TRELLIS_CA_BAD_CSR", `the CSR asks for CA rights (${csr.caRequest}); this CA signs workload certificates only: leave basicConstraints and keyUsage out of the CSR (or set CA:FALSE)`);
    }
    const weak = weakKey(csr.publicKey);
    if (weak) throw new CaError("TRELLIS_CA_BAD_CSR", weak);
    const max = this.options.maxTtlMs ?? DEFAULT_MAX_WORKLOAD_CERT_TTL_MS;
    const lifetime = ttlMs && ttlMs > 0 ? ttlMs : (this.options.defaultTtlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS);
    if (lifetime > max) throw new CaError("TRELLIS_CA_BAD_TTL", `the requested lifetime ${Math.round(lifetime / 1000)}s exceeds the CA's maximum ${Math.round(max / 1000)}s`);
    const leaf = await signLeaf({ publicKey: csr.publicKey, uris: [expected], lifetimeMs: lifetime, issuerCertPem: this.signingCertPem, issuerKey: this.signingKey });
    return [leaf, ...splitPem(this.intermediatesPem()), this.rootPems[0]];
  }

  /**
   * Starts a root rotation (self-signed mode): a new root signs from now on, and the bundle holds both roots so
   * certificates from either verify until `finishRootRotation` drops the old one.
   */
  async rotateRoot(): Promise<void> {
    if (this.mode !== "self-signed") throw new CaError("TRELLIS_CA_CONFIG", "a plug-in CA's root is rotated by replacing its files, not by Trellis");
    const keys = await generateKeyPair();
    const root = await createRoot(this.trustDomain, keys, ROOT_LIFETIME_MS);
    this.rootPems = [root, ...this.rootPems.filter((p) => p !== root)];
    this.signingCertPem = root;
    this.signingKey = keys.privateKey;
    writeSecret(join(this.options.dir, PLUGIN_FILES.key), keys.keyPem);
    writeFileSync(join(this.options.dir, PLUGIN_FILES.cert), root);
    writeFileSync(join(this.options.dir, PLUGIN_FILES.root), this.rootsPem());
  }

  /**
   * Self-signed mode: takes the signing root, key and trust bundle from the files in the CA's directory again (another
   * replica rotated and they were rewritten from the shared Secret). Whether anything changed.
   */
  async reload(): Promise<boolean> {
    if (this.mode !== "self-signed") return false;
    const dir = this.options.dir;
    const certPem = readFileSync(join(dir, PLUGIN_FILES.cert), "utf8");
    const roots = splitPem(readFileSync(join(dir, PLUGIN_FILES.root), "utf8"));
    if (certPem === this.signingCertPem && roots.join("") === this.rootsPem()) return false;
    this.signingKey = await importPrivateKey(readFileSync(join(dir, PLUGIN_FILES.key), "utf8"));
    this.signingCertPem = certPem;
    this.rootPems = roots.length ? roots : [certPem];
    return true;
  }

  /** Ends a rotation: only the current root stays trusted. */
  finishRootRotation(): void {
    this.rootPems = [this.signingCertPem];
    if (this.mode === "self-signed") writeFileSync(join(this.options.dir, PLUGIN_FILES.root), this.rootsPem());
  }
}
