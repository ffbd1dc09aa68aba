// A reflector: keeps an in-memory copy of one Kubernetes collection by paginated list + watch (with bookmarks),
// resuming from the last resourceVersion, relisting when the API server answers 410 Gone (compaction, expired
// continue tokens), backing off with jitter on other errors, and abandoning a watch the server left open past its
// own timeout (client-go's informers are known to stall silently; this one cannot outlive its deadline).
import { EventEmitter } from "node:events";
import { KubeApiError, type KubeClient, type KubeList, type KubeObject, type WatchEvent } from "./client.js";

export interface ReflectorOptions {
  /** The collection's path, e.g. /api/v1/pods or /apis/networking.istio.io/v1/virtualservices. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Items per list page (client-go's default is 500). */
  pageSize?: number;
  /** The watch's timeoutSeconds; each watch takes a random value in [t, 2t) so reflectors do not reconnect together. */
  watchTimeoutSeconds?: number;
  /** How long past its timeoutSeconds a watch may stay open before it is taken as stalled and reopened. */
  stallGraceMs?: number;
  /** Backoff after an error: starts here, doubles to maxBackoffMs, each wait jittered down to half. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  log?: (line: string) => void;
  /** Turns an error into a message that says how to fix it (e.g. "the CRD is not installed: run ..."). */
  explain?: (err: Error) => string | undefined;
}

export type ReflectorEvent<T> = { type: "ADDED" | "MODIFIED" | "DELETED"; object: T; old?: T };

/** ns/name, or name for cluster-scoped objects. */
export function objectKey(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** resourceVersions are opaque, but etcd's are integers: when both are, a write result older than the cache is dropped. */
function older(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && /^\d+$/.test(a) && /^\d+$/.test(b) && BigInt(a) < BigInt(b);
}

class StalledWatch extends Error {}

/**
 * Events: "event" (ReflectorEvent), "synced" (after each complete list), "error" is never emitted: failures are
 * logged and retried, since a control plane must outlive an API server that is down or a permission that is missing.
 */
export class Reflector<T extends KubeObject = KubeObject> extends EventEmitter {
  private readonly items = new Map<string, T>();
  private resourceVersion?: string;
  private stopped = false;
  private running?: Promise<void>;
  private abort?: AbortController;
  private wake?: () => void;
  private hasSynced = false;
  /** Counts, for tests and /debug: how many lists, watches and relists after 410 happened. */
  readonly stats = { lists: 0, watches: 0, gone: 0, stalls: 0, errors: 0 };
  lastError?: string;

  constructor(private readonly client: KubeClient, private readonly opts: ReflectorOptions) {
    super();
  }

  /** Where the next watch resumes (the last list, event or bookmark). */
  get lastResourceVersion(): string | undefined {
    return this.resourceVersion;
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    await this.running;
  }

  list(): T[] {
    return [...this.items.values()];
  }

  get(key: string): T | undefined {
    return this.items.get(key);
  }

  /** Resolves once the first list completed; rejects after timeoutMs with the last error. */
  waitSynced(timeoutMs: number): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.off("synced", done);
        reject(new Error(`${this.opts.path}: not listed within ${timeoutMs} ms${this.lastError ? `: ${this.lastError}` : ""}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(t);
        resolve();
      };
      this.once("synced", done);
    });
  }

  /** Applies the result of our own write at once (read-your-writes); the watch event that follows changes nothing. */
  observe(obj: T): void {
    const key = objectKey(obj);
    const prev = this.items.get(key);
    if (prev && (prev.metadata.resourceVersion === obj.metadata.resourceVersion || older(obj.metadata.resourceVersion, prev.metadata.resourceVersion))) return;
    this.items.set(key, obj);
    this.emit("event", { type: prev ? "MODIFIED" : "ADDED", object: obj, old: prev } satisfies ReflectorEvent<T>);
  }

  /** Applies our own successful delete at once. */
  forget(key: string): void {
    const prev = this.items.get(key);
    if (!prev) return;
    this.items.delete(key);
    this.emit("event", { type: "DELETED", object: prev } satisfies ReflectorEvent<T>);
  }

  private async loop(): Promise<void> {
    let backoff = this.opts.initialBackoffMs ?? 500;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.relist();
        if (this.stopped) break;
        await this.watchOnce();
        backoff = this.opts.initialBackoffMs ?? 500;
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof KubeApiError && err.status === 410) {
          // Compacted past our resourceVersion (or a continue token expired): start over from a fresh list.
          this.stats.gone++;
          this.resourceVersion = undefined;
          continue;
        }
        if (err instanceof StalledWatch) {
          this.stats.stalls++;
          this.opts.log?.(`trellis control: ${err.message}; watching again from resourceVersion ${this.resourceVersion}`);
          continue;
        }
        this.stats.errors++;
        const wait = backoff / 2 + Math.random() * (backoff / 2);
        const message = this.opts.explain?.(err as Error) ?? (err as Error).message;
        this.lastError = message;
        this.opts.log?.(`trellis control: ${message}; retrying in ${(wait / 1000).toFixed(1)} s`);
        await this.sleep(wait);
        backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 30_000);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private selectors(): Record<string, string | undefined> {
    return { labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector };
  }

  /** Lists every page, then replaces the cache: what vanished meanwhile is deleted, so nothing stale survives a relist. */
  private async relist(): Promise<void> {
    this.stats.lists++;
    const fresh = new Map<string, T>();
    let cont: string | undefined;
    let rv: string | undefined;
    do {
      this.abort = new AbortController();
      const page = await this.client.get<KubeList<T>>(this.opts.path, { query: { ...this.selectors(), limit: this.opts.pageSize ?? 500, continue: cont }, signal: this.abort.signal });
      for (const item of page.items ?? []) fresh.set(objectKey(item), item);
      cont = page.metadata?.continue || undefined;
      rv = page.metadata?.resourceVersion;
    } while (cont && !this.stopped);
    if (this.stopped) return;
    for (const [key, prev] of this.items) {
      if (!fresh.has(key)) {
        this.items.delete(key);
        this.emit("event", { type: "DELETED", object: prev } satisfies ReflectorEvent<T>);
      }
    }
    for (const [key, obj] of fresh) {
      const prev = this.items.get(key);
      if (prev?.metadata.resourceVersion === obj.metadata.resourceVersion) continue;
      this.items.set(key, obj);
      this.emit("event", { type: prev ? "MODIFIED" : "ADDED", object: obj, old: prev } satisfies ReflectorEvent<T>);
    }
    this.resourceVersion = rv;
    this.hasSynced = true;
    this.lastError = undefined;
    this.emit("synced");
  }

  private async watchOnce(): Promise<void> {
    this.stats.watches++;
    const base = this.opts.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(base + Math.random() * base);
    const abort = (this.abort = new AbortController());
    let stalled = false;
    const guard = setTimeout(() => {
      stalled = true;
      abort.abort();
    }, timeoutSeconds * 1000 + (this.opts.stallGraceMs ?? 30_000));
    const started = Date.now();
    let events = 0;
    try {
      await this.client.watch<T>(this.opts.path, { ...this.selectors(), resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds }, (e) => {
        events++;
        this.apply(e);
      }, abort.signal);
    } catch (err) {
      if (!stalled) throw err;
    } finally {
      clearTimeout(guard);
    }
    if (stalled) throw new StalledWatch(`watch ${this.opts.path} stayed open ${timeoutSeconds} s past its timeout with no end: taken as stalled`);
    // A server (or proxy in front of it) that ends every watch at once would otherwise be asked again in a tight loop.
    if (events === 0 && Date.now() - started < 1000) throw new Error(`watch ${this.opts.path} ended at once with no event`);
  }

  private apply(e: WatchEvent<T>): void {
    if (e.type === "ERROR") {
      const s = e.object as unknown as { code?: number; reason?: string; message?: string };
      throw new KubeApiError(s.code ?? 500, s.reason ?? "WatchError", `watch ${this.opts.path}: ${s.message ?? "error event"}`, "watch", this.opts.path);
    }
    const rv = e.object.metadata?.resourceVersion;
    if (e.type === "BOOKMARK") {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const key = objectKey(e.object);
    const prev = this.items.get(key);
    if (e.type === "DELETED") {
      if (prev) {
        this.items.delete(key);
        this.emit("event", { type: "DELETED", object: e.object } satisfies ReflectorEvent<T>);
      }
    } else if (prev?.metadata.resourceVersion !== rv) {
      this.items.set(key, e.object);
      this.emit("event", { type: prev ? "MODIFIED" : "ADDED", object: e.object, old: prev } satisfies ReflectorEvent<T>);
    }
    if (rv) this.resourceVersion = rv;
  }
}
