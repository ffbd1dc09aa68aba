// RING_HASH: a Ketama-style ring; each host gets slots in proportion to its weight, a request goes to the next slot
// clockwise from its hash. Built once per host set.
import type { Endpoint } from "../endpoint.js";
import { hash32 } from "./hash32.js";
import { type LoadBalancer, registerLbPolicy } from "./lb-policy.js";

export class RingHash implements LoadBalancer {
  private ring: Uint32Array = new Uint32Array(0);
  private owners: Endpoint[] = [];
  private builtFor: Endpoint[] | undefined;

  constructor(private readonly minRingSize = 1024, private readonly maxRingSize = 8 * 1024 * 1024) {}

  private build(hosts: Endpoint[]): void {
    const totalWeight = hosts.reduce((s, h) => s + Math.max(1, h.weight), 0);
    const size = Math.min(this.maxRingSize, Math.max(this.minRingSize, hosts.length));
    const entries: Array<[number, Endpoint]> = [];
    for (const h of hosts) {
      const slots = Math.max(1, Math.round((size * Math.max(1, h.weight)) / totalWeight));
      for (let i = 0; i < slots; i++) entries.push([hash32(`${h.key}_${i}`), h]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    this.ring = Uint32Array.from(entries.map((e) => e[0]));
    this.owners = entries.map((e) => e[1]);
    this.builtFor = hosts;
  }

  pick(hosts: Endpoint[], hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    if (hosts.length === 0) return undefined;
    if (this.builtFor !== hosts) this.build(hosts);
    const h = hash ?? Math.floor(Math.random() * 0xffffffff);
    let lo = 0, hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ring[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < this.owners.length; i++) {
      const e = this.owners[(lo + i) % this.owners.length];
      if (!skip || !skip(e)) return e;
    }
    return undefined;
  }
}

registerLbPolicy("RING_HASH", (o) => new RingHash(o.minRingSize || 1024, o.maxRingSize || 8 * 1024 * 1024));
