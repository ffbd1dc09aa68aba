// Work only one replica may do (the GitOps folder's apply): the replica whose lease holds /trellis/leader does it.
// The key is created on the holder's lease, so it goes when that replica dies (after the lease's TTL) and another
// takes it at its next check; a replica that finds its lease replaced stops the work until it holds the key again.
import type { EtcdClient } from "../store/etcd-client.js";
import { ETCD_PREFIX } from "../store/etcd-store.js";
import type { ReplicaLease } from "./replica-lease.js";

export const LEADER_KEY = `${ETCD_PREFIX}leader`;
const CHECK_MS = 2000;

export class Singleton {
  private leading = false;
  private timer?: NodeJS.Timeout;
  private checking = false;

  constructor(private readonly etcd: EtcdClient, private readonly lease: ReplicaLease, private readonly replica: string, private readonly duties: { start(): Promise<void> | void; stop(): void }, private readonly log: (line: string) => void) {}

  start(): void {
    this.timer = setInterval(() => void this.check(), CHECK_MS);
    this.timer.unref();
    void this.check();
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** Takes the key when free; starts or stops the duties when leadership changed. */
  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const lease = this.lease.current;
      let held = await this.etcd.get(LEADER_KEY);
      if (!held && lease !== "0") {
        await this.etcd.txn([{ key: LEADER_KEY, target: "CREATE", equals: 0 }], [{ put: { key: LEADER_KEY, value: Buffer.from(this.replica), lease } }]);
        held = await this.etcd.get(LEADER_KEY);
      }
      this.set(!!held && lease !== "0" && held.lease === lease);
    } catch {
      // etcd unreachable: keep doing what we did; the lease decides once etcd answers again.
    } finally {
      this.checking = false;
    }
  }

  private set(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.log(`trellis control: replica ${this.replica} ${leading ? "holds" : "no longer holds"} ${LEADER_KEY}: ${leading ? "doing" : "leaving"} the singleton work (--config-dir)`);
    if (leading) Promise.resolve(this.duties.start()).catch((err: Error) => this.log(`trellis control: ${err.message}`));
    else this.duties.stop();
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.leading) this.duties.stop();
    this.leading = false;
  }
}
