// Revoked bootstrap tokens by id (jti), kept in a 0600 file beside the signing key so `trellis token revoke` (another
// process) and the control plane share it. Entries go once the token would have expired anyway.
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";

export class RevocationList {
  private cache = new Map<string, number>();
  private cachedMtimeMs = -1;

  constructor(private readonly file: string) {}

  has(id: string, now = Date.now()): boolean {
    this.reload();
    const until = this.cache.get(id);
    return until !== undefined && (now === 0 || until > now);
  }

  /** Records `id` as revoked until `expiresAt` (ms), pruning entries that expired. */
  add(id: string, expiresAt: number, now = Date.now()): void {
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new Error(`"${id}" is not a token id (a UUID, the token's jti)`);
    this.reload();
    const live = [...this.cache].filter(([, until]) => until > now);
    if (live.length !== this.cache.size) writeFileSync(this.file, live.map(([j, u]) => `${j} ${u}\n`).join(""), { mode: 0o600 });
    appendFileSync(this.file, `${id} ${expiresAt}\n`, { mode: 0o600 });
    this.cachedMtimeMs = -1;
  }

  private reload(): void {
    if (!existsSync(this.file)) {
      this.cache = new Map();
      return;
    }
    const mtime = statSync(this.file).mtimeMs;
    if (mtime === this.cachedMtimeMs) return;
    const next = new Map<string, number>();
    for (const line of readFileSync(this.file, "utf8").split("\n")) {
      const [id, until] = line.trim().split(" ");
      if (id && Number.isFinite(Number(until))) next.set(id, Number(until));
    }
    this.cache = next;
    this.cachedMtimeMs = mtime;
  }
}
