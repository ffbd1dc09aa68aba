// One resource whose translation throws must not freeze the mesh: the guard translates a proxy with every resource;
// when that throws, it finds the resources that throw on their own, skips them (for every proxy, until they change)
// and translates again without them. What was skipped and which proxies still could not be configured is kept for
// the logs, the REST API (/debug/config-errors, /debug/proxies) and proxy-status.
import type { IstioResource } from "../api/resource.js";

export interface SkippedResource {
  kind: string;
  namespace: string;
  name: string;
  resourceVersion?: string;
  error: string;
}

function keyOf(r: IstioResource): string {
  const m = (r.metadata ?? {}) as IstioResource["metadata"];
  return `${String(r.kind)}/${String(m.namespace)}/${String(m.name)}@${String(m.resourceVersion)}`;
}

export class TranslationGuard {
  /** Resources (by kind/namespace/name@version) whose translation throws on its own. */
  private readonly bad = new Map<string, SkippedResource>();
  /** Proxies that could not be configured even without them: node id -> why. */
  private readonly failed = new Map<string, string>();
  /** Bumped whenever `bad` changes, and the last usable() answer. */
  private badVersion = 0;
  private lastUsable?: { input: IstioResource[]; bad: number; output: IstioResource[] };

  constructor(private readonly log: (line: string) => void) {}

  /** `translate(resources)` for one proxy; undefined when no configuration could be built (the error is kept). */
  run<T>(proxyId: string, resources: IstioResource[], translate: (resources: IstioResource[]) => T): T | undefined {
    const usable = this.usable(resources);
    try {
      const out = translate(usable);
      this.settle(proxyId);
      return out;
    } catch (first) {
      for (const r of usable) this.probe(r, translate);
      const rest = usable.filter((r) => !this.bad.has(keyOf(r)));
      try {
        const out = translate(rest);
        this.settle(proxyId);
        return out;
      } catch (err) {
        const why = `its configuration cannot be built: ${(err as Error).message ?? String(first)}; it keeps the last configuration it was sent`;
        if (this.failed.get(proxyId) !== why) this.log(`trellis control: proxy ${proxyId}: ${why}`);
        this.failed.set(proxyId, why);
        return undefined;
      }
    }
  }

  /**
   * The resources not known to throw: `resources` itself when none is, and the same filtered list for the same input
   * while the skipped set stays, so a push's shared index is recognised by identity for every proxy.
   */
  usable(resources: IstioResource[]): IstioResource[] {
    if (this.bad.size === 0) return resources;
    if (this.lastUsable?.input !== resources || this.lastUsable.bad !== this.badVersion) {
      this.lastUsable = { input: resources, bad: this.badVersion, output: resources.filter((r) => !this.bad.has(keyOf(r))) };
    }
    return this.lastUsable.output;
  }

  /** Why a proxy has no current configuration, or undefined. */
  errorOf(proxyId: string): string | undefined {
    return this.failed.get(proxyId);
  }

  /** Records that a proxy's built configuration could not be served (an inconsistent snapshot). */
  fail(proxyId: string, why: string): void {
    if (this.failed.get(proxyId) !== why) this.log(`trellis control: proxy ${proxyId}: ${why}`);
    this.failed.set(proxyId, why);
  }

  forget(proxyId: string): void {
    this.failed.delete(proxyId);
  }

  /** Skipped resources still in `current` (ones deleted or changed since are dropped from the list). */
  skipped(current: IstioResource[]): SkippedResource[] {
    const live = new Set(current.map(keyOf));
    for (const k of this.bad.keys()) if (!live.has(k) && this.bad.delete(k)) this.badVersion++;
    return [...this.bad.values()];
  }

  private settle(proxyId: string): void {
    if (this.failed.delete(proxyId)) this.log(`trellis control: proxy ${proxyId} is configured again`);
  }

  private probe<T>(r: IstioResource, translate: (resources: IstioResource[]) => T): void {
    try {
      translate([r]);
    } catch (err) {
      const m = (r.metadata ?? {}) as IstioResource["metadata"];
      const entry = { kind: String(r.kind), namespace: String(m.namespace), name: String(m.name), resourceVersion: m.resourceVersion, error: (err as Error).message };
      this.bad.set(keyOf(r), entry);
      this.badVersion++;
      this.log(`trellis control: skipping ${entry.kind} ${entry.namespace}/${entry.name}: it cannot be translated (${entry.error}); the other resources still apply. Fix or delete it`);
    }
  }
}
