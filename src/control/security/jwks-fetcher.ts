// Fetches the JSON Web Key Sets that RequestAuthentications name by jwksUri, caches them, refreshes them, and
// tells the control plane when one changes (it is inlined into the proxies' config, as istiod does). A refresh that
// fails keeps the last good key set; a first fetch that fails is retried with backoff.
const MAX_BYTES = 1024 * 1024;
const MAX_BACKOFF_MS = 60_000;

interface Entry {
  text?: string;
  timer?: NodeJS.Timeout;
  inFlight: boolean;
  failures: number;
}

export class JwksFetcher {
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(
    private readonly onUpdate: () => void,
    private readonly log: (line: string) => void,
    private readonly refreshMs = 20 * 60_000,
    private readonly firstRetryMs = 1000,
  ) {}

  /** The key set for a URI, or undefined while it has not been fetched (the first call starts the fetch). */
  get(uri: string): string | undefined {
    let entry = this.entries.get(uri);
    if (!entry) {
      entry = { inFlight: false, failures: 0 };
      this.entries.set(uri, entry);
      this.fetch(uri, entry);
    }
    return entry.text;
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) clearTimeout(e.timer);
  }

  private later(uri: string, entry: Entry, ms: number): void {
    clearTimeout(entry.timer);
    if (this.closed) return;
    entry.timer = setTimeout(() => this.fetch(uri, entry), ms).unref();
  }

  private fetch(uri: string, entry: Entry): void {
    if (entry.inFlight || this.closed) return;
    let url: URL;
    try {
      url = new URL(uri);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("only http: and https: URIs are fetched");
    } catch (err) {
      this.log(`trellis control: jwksUri "${uri}" is not usable: ${(err as Error).message}; tokens of that issuer are refused`);
      return;
    }
    entry.inFlight = true;
    fetch(url, { signal: AbortSignal.timeout(5000), redirect: "follow" })
      .then(async (res) => {
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const text = await res.text();
        if (text.length > MAX_BYTES) throw new Error(`larger than ${MAX_BYTES} bytes`);
        const parsed = JSON.parse(text) as { keys?: unknown };
        if (!Array.isArray(parsed.keys)) throw new Error(`not a JSON Web Key Set (no "keys" array)`);
        return text;
      })
      .then((text) => {
        const changed = entry.text !== text;
        entry.text = text;
        entry.failures = 0;
        this.later(uri, entry, this.refreshMs);
        if (changed) this.onUpdate();
      }, (err: Error) => {
        entry.failures++;
        const retry = Math.min(this.firstRetryMs * 2 ** (entry.failures - 1), MAX_BACKOFF_MS);
        const effect = entry.text ? "the last key set fetched stays in use" : "tokens of that issuer are refused until it can be fetched";
        this.log(`trellis control: cannot fetch JWKS ${uri}: ${err.message}; ${effect}; retrying in ${Math.round(retry / 1000)} s`);
        this.later(uri, entry, retry);
      })
      .finally(() => { entry.inFlight = false; });
  }
}
