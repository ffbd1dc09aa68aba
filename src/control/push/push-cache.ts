// Resources built for one proxy and reused for the next ones that would build the same, and by later recomputes
// until a change touches them. Entries live under the host they are built for; each may name the other hosts it
// read (a route's destinations), so a change to a host drops every entry that read it. The objects handed out are
// shared: callers must not mutate them, and the snapshot encoder reuses their encodings by identity.

export class PushCache {
  private readonly byHost = new Map<string, Map<string, unknown>>();
  /** Host -> the hosts whose entries read it. */
  private readonly readers = new Map<string, Set<string>>();
  private settings?: string;
  private readonly tokens = new Map<string, string>();
  private readonly wholes = new Map<string, unknown>();
  hits = 0;
  misses = 0;

  /** The entry `key` of `host`, built (and recorded with the other hosts it read) when missing. */
  get<T>(host: string, key: string, build: () => { value: T; reads?: Iterable<string> }): T {
    let table = this.byHost.get(host);
    if (table?.has(key)) {
      this.hits++;
      return table.get(key) as T;
    }
    this.misses++;
    const { value, reads } = build();
    if (!table) this.byHost.set(host, (table = new Map()));
    table.set(key, value);
    for (const other of reads ?? []) {
      if (other === host) continue;
      let set = this.readers.get(other);
      if (!set) this.readers.set(other, (set = new Set()));
      set.add(host);
    }
    return value;
  }

  /**
   * An entry built over every host (a group of proxies' whole outbound configuration): any change to any host
   * drops it, but proxies alike in everything the outbound depends on share it until then.
   */
  whole<T>(key: string, build: () => T): T {
    if (this.wholes.has(key)) {
      this.hits++;
      return this.wholes.get(key) as T;
    }
    this.misses++;
    const value = build();
    this.wholes.set(key, value);
    return value;
  }

  /** Drops what was built for these hosts and everything that read them. */
  invalidate(hosts: Iterable<string>): void {
    for (const host of hosts) {
      this.wholes.clear();
      this.byHost.delete(host);
      for (const reader of this.readers.get(host) ?? []) this.byHost.delete(reader);
      this.readers.delete(host);
    }
  }

  clear(): void {
    this.byHost.clear();
    this.readers.clear();
    this.tokens.clear();
    this.wholes.clear();
  }

  /**
   * A short stand-in for a long key part (a proxy's connection-manager settings run to a kilobyte of JSON), so
   * lookups hash a few characters rather than the whole text on every resource of every proxy.
   */
  token(text: string): string {
    let t = this.tokens.get(text);
    if (t === undefined) this.tokens.set(text, (t = `#${this.tokens.size}`));
    return t;
  }

  /** Mesh-wide settings every entry depends on (DNS, locality, tracing, logs): when they change, nothing is reusable. */
  useSettings(key: string): void {
    if (this.settings !== key) this.clear();
    this.settings = key;
  }

  /** Entries held, for tests and the bench's memory accounting. */
  size(): number {
    let n = 0;
    for (const t of this.byHost.values()) n += t.size;
    return n + this.wholes.size;
  }
}
