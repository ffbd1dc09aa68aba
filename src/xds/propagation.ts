// Config propagation, seen per change: every accepted write gets a generation; the push that follows marks which
// proxies' snapshots it changed (the affected ones); each proxy that then ACKs every type of a snapshot built at or
// after that generation holds the change. A change's view says how many proxies hold it, how long they took
// (p50/p99/max), and names those that NACKed, disconnected or have not answered. Proxies are tracked independently:
// one that never answers is named, never waited for by the others.

export interface ConfigChange {
  kind: string;
  namespace: string;
  name: string;
  op: "ADDED" | "MODIFIED" | "DELETED";
  resourceVersion?: string;
  /** A rewrite with the content it had (spec, labels, annotations): nothing any proxy reads changed. */
  unchanged?: boolean;
}

interface Outcome {
  heldAt?: number;
  nack?: string;
  gone?: boolean;
}

interface ChangeRecord extends ConfigChange {
  generation: number;
  at: number;
  pushedAt?: number;
  affected: Map<string, Outcome>;
  /** Set when the control plane could not translate the written resource: no proxy gets it. */
  error?: string;
}

export type ChangeState = "PENDING" | "PROPAGATING" | "DONE" | "FAILED";

export interface ChangeView extends ConfigChange {
  generation: number;
  /** When the write was accepted (ISO time). */
  at: string;
  /**
   * PENDING: not pushed yet; PROPAGATING: some affected proxy has not answered; DONE: every affected proxy holds it;
   * FAILED: the control plane could not translate it (`error`), or every affected proxy answered and some rejected
   * it (NACK) or disconnected first.
   */
  state: ChangeState;
  error?: string;
  proxies: { affected: number; held: number; nacked: number; disconnected: number; waiting: number };
  /** Milliseconds from the write to each affected proxy holding it; null before any does. */
  convergenceMs: { p50: number; p99: number; max: number } | null;
  nacked: Array<{ proxy: string; error: string }>;
  /** Affected proxies that have not answered yet (the first 50). */
  waiting: string[];
  disconnected: string[];
}

/** Changes kept for the API: older ones are forgotten first. */
const KEEP = 200;
const NAMED = 50;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export class PropagationTracker {
  private generationNow = 0;
  private lastPushed = 0;
  private readonly changes: ChangeRecord[] = [];
  /** Per node: the generation of its current snapshot. */
  private readonly snapshotGen = new Map<string, number>();

  /** `onConverged`: seconds from the oldest change a proxy newly holds to its ACK (one observation per proxy sync). */
  constructor(private readonly onConverged: (seconds: number) => void = () => {}, private readonly now: () => number = Date.now) {}

  get generation(): number {
    return this.generationNow;
  }

  /** An accepted write: its generation. */
  record(change: ConfigChange): number {
    const generation = ++this.generationNow;
    // An unchanged rewrite affects no proxy whatever push it falls into (a debounced push may carry other changes).
    this.changes.push({ ...change, generation, at: this.now(), affected: new Map(), ...(change.unchanged ? { pushedAt: this.now() } : {}) });
    if (this.changes.length > KEEP) this.changes.splice(0, this.changes.length - KEEP);
    return generation;
  }

  /** Every snapshot for changes up to `generation` is set: their affected proxies are known. */
  pushed(generation = this.generationNow): void {
    const at = this.now();
    for (const c of this.changes) if (c.generation > this.lastPushed && c.generation <= generation) c.pushedAt = at;
    this.lastPushed = Math.max(this.lastPushed, generation);
  }

  /** `node` got a snapshot built at `generation`; `changed` when it differs from the one it had. */
  snapshotSet(node: string, generation: number, changed: boolean): void {
    const before = Math.max(this.snapshotGen.get(node) ?? 0, this.lastPushed);
    this.snapshotGen.set(node, generation);
    if (!changed) return;
    // Newest first: only the changes not pushed yet can be affected, so the walk stops early.
    for (let i = this.changes.length - 1; i >= 0 && this.changes[i].generation > before; i--) {
      const c = this.changes[i];
      if (c.generation <= generation && !c.unchanged && !c.affected.has(node)) c.affected.set(node, {});
    }
  }

  /** The control plane skips this written resource (its translation fails): its change reaches no proxy. */
  skipped(r: { kind: string; namespace: string; name: string; resourceVersion?: string; error: string }): void {
    for (const c of this.changes) {
      const kind = c.kind === r.kind || c.kind.startsWith(`${r.kind}.`);
      if (kind && c.namespace === r.namespace && c.name === r.name && c.resourceVersion === r.resourceVersion) c.error = `the control plane cannot translate it, so no proxy gets it: ${r.error}`;
    }
  }

  /** `node` could not be given a snapshot for `generation`: it is affected and will not get there. */
  snapshotFailed(node: string, generation: number, error: string): void {
    for (const c of this.changes) {
      if (c.generation > this.lastPushed && c.generation <= generation) c.affected.set(node, { nack: `the control plane cannot serve it: ${error}` });
    }
  }

  /** `node` ACKed every type of its snapshot built at `generation`. */
  held(node: string, generation: number): void {
    const at = this.now();
    let oldest: number | undefined;
    for (const c of this.changes) {
      if (c.generation > generation) break;
      const o = c.affected.get(node);
      if (!o || o.heldAt !== undefined) continue;
      o.heldAt = at;
      o.nack = undefined;
      oldest ??= c.at;
    }
    if (oldest !== undefined) this.onConverged((at - oldest) / 1000);
  }

  /** `node` rejected its current snapshot (a NACK with `error`). */
  nacked(node: string, error: string): void {
    const generation = this.snapshotGen.get(node) ?? 0;
    for (const c of this.changes) {
      if (c.generation > generation) break;
      const o = c.affected.get(node);
      if (o && o.heldAt === undefined) o.nack = error;
    }
  }

  /** `node` has no stream left: changes it had not ACKed name it as disconnected. */
  disconnected(node: string): void {
    this.snapshotGen.delete(node);
    for (const c of this.changes) {
      const o = c.affected.get(node);
      if (o && o.heldAt === undefined) o.gone = true;
    }
  }

  /** The last `limit` changes, newest first. */
  list(limit = 20): ChangeView[] {
    return this.changes.slice(-limit).reverse().map((c) => this.view(c));
  }

  get(generation: number): ChangeView | undefined {
    const c = this.changes.find((x) => x.generation === generation);
    return c && this.view(c);
  }

  /** The change that wrote this resource at this resourceVersion (the latest write of it when no version is given). */
  find(kind: string, namespace: string, name: string, resourceVersion?: string): ChangeView | undefined {
    for (let i = this.changes.length - 1; i >= 0; i--) {
      const c = this.changes[i];
      if (c.kind === kind && c.namespace === namespace && c.name === name && (resourceVersion === undefined || c.resourceVersion === resourceVersion)) return this.view(c);
    }
    return undefined;
  }

  private view(c: ChangeRecord): ChangeView {
    const times: number[] = [];
    const nacked: ChangeView["nacked"] = [];
    const waiting: string[] = [];
    const disconnected: string[] = [];
    for (const [node, o] of c.affected) {
      if (o.heldAt !== undefined) times.push(o.heldAt - c.at);
      else if (o.nack !== undefined) nacked.push({ proxy: node, error: o.nack });
      else if (o.gone) disconnected.push(node);
      else waiting.push(node);
    }
    times.sort((a, b) => a - b);
    const state: ChangeState = c.pushedAt === undefined ? "PENDING" : c.error ? "FAILED" : waiting.length ? "PROPAGATING" : nacked.length || disconnected.length ? "FAILED" : "DONE";
    const { affected: _affected, at, pushedAt: _pushedAt, ...rest } = c;
    return {
      ...rest, at: new Date(at).toISOString(), state,
      proxies: { affected: c.affected.size, held: times.length, nacked: nacked.length, disconnected: disconnected.length, waiting: waiting.length },
      convergenceMs: times.length ? { p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1] } : null,
      nacked: nacked.slice(0, NAMED), waiting: waiting.slice(0, NAMED), disconnected: disconnected.slice(0, NAMED),
    };
  }
}
