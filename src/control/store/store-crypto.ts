// Encryption at rest for the etcd store (--store-key FILE): every value is AES-256-GCM sealed under the key the
// replicas share, with the etcd key as additional data (a value moved to another key does not open). A sealed
// check value under /trellis/keycheck lets a replica holding another key refuse to start before writing anything.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

const VERSION = Buffer.from("tv1:");
const CHECK_TEXT = "trellis store key check";

export class StoreKeyError extends Error {
  readonly code = "TRELLIS_STORE_KEY";
}

export class StoreCrypto {
  private constructor(private readonly key: Buffer) {}

  /** A 32-byte key, as 64 hex characters or base64 (whitespace ignored), from a file only its owner may read. */
  static fromFile(path: string): StoreCrypto {
    let mode: number;
    let text: string;
    try {
      mode = statSync(path).mode;
      text = readFileSync(path, "utf8").trim();
    } catch (err) {
      throw new StoreKeyError(`--store-key: cannot read ${path}: ${(err as Error).message}; make one with: head -c 32 /dev/urandom | base64 > ${path}; chmod 600 ${path}`, { cause: err });
    }
    if (mode & 0o077) throw new StoreKeyError(`--store-key: ${path} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 ${path}`);
    const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
    if (key.length !== 32) throw new StoreKeyError(`--store-key: ${path} must hold 32 random bytes as hex or base64 (it holds ${key.length}); make one with: head -c 32 /dev/urandom | base64`);
    return new StoreCrypto(key);
  }

  /** A short, non-secret name for the key (its hash), for messages about a mismatch. */
  get id(): string {
    return createHash("sha256").update("trellis-store-key-id").update(this.key).digest("hex").slice(0, 12);
  }

  seal(etcdKey: string, plain: Buffer): Buffer {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.key, iv);
    c.setAAD(Buffer.from(etcdKey));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([VERSION, iv, c.getAuthTag(), body]);
  }

  /** The plaintext, or a StoreKeyError when the value was sealed under another key (or altered). */
  open(etcdKey: string, sealed: Buffer): Buffer {
    if (sealed.length < VERSION.length + 28 || !sealed.subarray(0, VERSION.length).equals(VERSION)) throw new StoreKeyError(`${etcdKey} is not a value Trellis sealed (written by something else?)`);
    const iv = sealed.subarray(VERSION.length, VERSION.length + 12);
    const tag = sealed.subarray(VERSION.length + 12, VERSION.length + 28);
    const d = createDecipheriv("aes-256-gcm", this.key, iv);
    d.setAAD(Buffer.from(etcdKey));
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(sealed.subarray(VERSION.length + 28)), d.final()]);
    } catch (err) {
      throw new StoreKeyError(`${etcdKey} does not open with this --store-key (key id ${this.id}): it was sealed under another key, or altered`, { cause: err });
    }
  }

  checkValue(etcdKey: string): Buffer {
    return this.seal(etcdKey, Buffer.from(JSON.stringify({ check: CHECK_TEXT, keyId: this.id })));
  }

  /** Undefined when `sealed` is our check value; otherwise why not (naming the key id that sealed it, if readable). */
  verifyCheck(etcdKey: string, sealed: Buffer): string | undefined {
    try {
      const v = JSON.parse(this.open(etcdKey, sealed).toString()) as { check?: string };
      return v.check === CHECK_TEXT ? undefined : `${etcdKey} holds an unexpected check value`;
    } catch {
      return `the store was set up with another --store-key than this replica's (key id ${this.id}); give every replica the same key file`;
    }
  }
}
