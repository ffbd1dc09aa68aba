// Leader election among control-plane replicas with a coordination.k8s.io/v1 Lease, as client-go's leaderelection
// does: acquire when the lease is free or expired, renew well inside its duration, release on shutdown. Writes carry
// the lease's resourceVersion, so two replicas racing for it cannot both win (the loser gets 409).
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { type KubeClient, KubeApiError, type KubeObject } from "./client.js";

interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export interface LeaderElectionOptions {
  namespace: string;
  /** Istio's istiod uses several leases; ours is one for all singleton work. */
  name?: string;
  /** This replica's identity in the lease (default: hostname plus a random suffix, so restarts are new holders). */
  identity?: string;
  leaseDurationMs?: number;
  /** How often the leader renews (must be well under the duration). */
  renewIntervalMs?: number;
  /** How often a follower retries. */
  retryIntervalMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  log?(line: string): void;
}

export const DEFAULT_LEASE_NAME = "trellis-control-leader";

/** MicroTime as the API server writes it (RFC 3339 with microseconds). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  readonly identity: string;
  private leading = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private lastRenew = 0;
  private inflight?: Promise<void>;
  /** The lease record last seen and when, by this replica's clock (client-go's observedTime). */
  private observed?: { record: string; at: number };
  private readonly durationMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly name: string;
  private readonly log: (line: string) => void;

  constructor(private readonly client: KubeClient, private readonly options: LeaderElectionOptions) {
    this.identity = options.identity ?? `${hostname()}_${randomBytes(4).toString("hex")}`;
    this.durationMs = options.leaseDurationMs ?? 15_000;
    this.renewMs = options.renewIntervalMs ?? Math.floor(this.durationMs / 3);
    this.retryMs = options.retryIntervalMs ?? Math.floor(this.durationMs / 5);
    if (this.renewMs >= this.durationMs) throw new Error(`leader election: the renew interval (${this.renewMs} ms) must be shorter than the lease duration (${this.durationMs} ms)`);
    this.name = options.name ?? DEFAULT_LEASE_NAME;
    this.log = options.log ?? ((l) => console.error(l));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.inflight = this.tick();
  }

  /** Stops competing; a leader hands the lease back (holder cleared) so another replica takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // A renewal in flight could otherwise re-take the lease after the release below.
    await this.inflight;
    this.setLeading(false);
    // Checked in the lease itself: a renewal that landed just before the stop holds it without this replica leading.
    try {
      // Bounded, so a shutdown does not wait out the client's 30 s when the API server is away.
      const lease = await this.client.get<Lease>(this.path(), { timeoutMs: 5000 });
      if (lease.spec?.holderIdentity === this.identity) {
        await this.client.request("PUT", this.path(), { timeoutMs: 5000, body: { ...lease, spec: { ...lease.spec, holderIdentity: null, renewTime: null, acquireTime: null, leaseDurationSeconds: 1 } } });
      }
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return;
      this.log(`trellis control: could not release lease ${this.options.namespace}/${this.name}; others take over when it expires: ${(err as Error).message}`);
    }
  }

  private path(name?: string): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.options.namespace}/leases${name === undefined ? `/${this.name}` : ""}`;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    let held = false;
    try {
      held = await this.tryAcquireOrRenew();
    } catch (err) {
      this.log(`trellis control: leader election: ${(err as Error).message}`);
    }
    if (this.stopped) return;
    // A leader that could not renew within the lease's duration must assume another replica took over.
    if (!held && this.leading && Date.now() - this.lastRenew >= this.durationMs) this.setLeading(false);
    // A failed renewal inside the lease's duration keeps leading and retries soon.
    if (held) this.setLeading(true);
    this.timer = setTimeout(() => { this.inflight = this.tick(); }, held ? this.renewMs : this.retryMs);
    this.timer.unref();
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.log(`trellis control: ${leading ? "became" : "is no longer"} the leader (lease ${this.options.namespace}/${this.name}, holder ${this.identity})`);
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  /** True when this replica holds the lease after the call. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const lease = await this.client.find<Lease>(this.path());
    const spec: LeaseSpec = { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.durationMs / 1000), renewTime: microTime(now) };
    if (!lease) {
      return this.write("POST", this.path(""), { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: this.name, namespace: this.options.namespace }, spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 } }, now);
    }
    const current = lease.spec ?? {};
    const mine = current.holderIdentity === this.identity;
    if (!mine && current.holderIdentity && !this.expired(current, now)) return false;
    const next: LeaseSpec = mine
      ? { ...current, ...spec }
      : { ...spec, acquireTime: microTime(now), leaseTransitions: (current.leaseTransitions ?? 0) + 1 };
    return this.write("PUT", this.path(), { ...lease, spec: next }, now);
  }

  /**
   * Expiry is judged as client-go does: by how long this replica has seen the same record unchanged, on its own
   * clock, so clock skew between replicas does not matter. A replica that starts late waits one full duration.
   */
  private expired(spec: LeaseSpec, now: number): boolean {
    const record = `${spec.holderIdentity}|${spec.renewTime}|${spec.leaseDurationSeconds}`;
    if (this.observed?.record !== record) this.observed = { record, at: now };
    return this.observed.at + (spec.leaseDurationSeconds ?? 15) * 1000 <= now;
  }

  private async write(method: "POST" | "PUT", path: string, body: Lease, now: number): Promise<boolean> {
    try {
      await this.client.request(method, path, { body, timeoutMs: Math.max(1000, this.renewMs) });
      this.lastRenew = now;
      return true;
    } catch (err) {
      // Another replica wrote first: it holds the lease now.
      if (err instanceof KubeApiError && (err.status === 409)) return false;
      throw err;
    }
  }
}
