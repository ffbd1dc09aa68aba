// A replica's presence in etcd: one lease, kept alive every few seconds, to which its proxies' registrations and its
// leadership are attached, so a replica that dies takes them with it after the lease's TTL. A lease etcd says has
// expired (an outage longer than the TTL) is replaced and everything attached is put again through `onRenewed`.
import type { EtcdClient } from "../store/etcd-client.js";

export const LEASE_TTL_S = 10;
const KEEPALIVE_MS = 2500;
const REGRANT_MS = 1000;

export class ReplicaLease {
  private id = "0";
  private keeper?: { stop(): void };
  private retry?: NodeJS.Timeout;
  private stopped = false;
  private readonly renewed: Array<() => void> = [];

  constructor(private readonly etcd: EtcdClient, private readonly log: (line: string) => void) {}

  /** The current lease id ("0" while there is none: between an expiry and the next grant). */
  get current(): string {
    return this.id;
  }

  async start(): Promise<void> {
    this.id = await this.etcd.grantLease(LEASE_TTL_S);
    this.keeper = this.etcd.keepAlive(this.id, KEEPALIVE_MS, () => this.lost());
  }

  /** Called after a new lease replaced an expired one. */
  onRenewed(fn: () => void): void {
    this.renewed.push(fn);
  }

  private lost(): void {
    this.log(`trellis control: etcd let this replica's lease expire (an outage longer than ${LEASE_TTL_S}s?); taking a new one and registering this replica's proxies again`);
    this.id = "0";
    const again = () => {
      if (this.stopped) return;
      this.start().then(() => { for (const fn of this.renewed) fn(); }, (err: Error) => {
        this.log(`trellis control: ${err.message}; retrying`);
        this.retry = setTimeout(again, REGRANT_MS);
        this.retry.unref();
      });
    };
    again();
  }

  /** Revokes the lease, so what is attached goes at once rather than after the TTL. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    this.keeper?.stop();
    if (this.id !== "0") await this.etcd.revokeLease(this.id).catch(() => {});
  }
}
