// MAGLEV: a fixed-size lookup table (a prime size, Envoy's default 65537) filled from per-host permutations, weighted
// by turns; a request's hash indexes the table. Built once per host set.
import type { Endpoint } from "../endpoint.js";
import { hash32 } from "./hash32.js";
import { firstAllowed, type LoadBalancer, registerLbPolicy } from "./lb-policy.js";

export class Maglev implements LoadBalancer {
  private table: Endpoint[] = [];
  private builtFor: Endpoint[] | undefined;

  constructor(private readonly tableSize = 65537) {}

  private build(hosts: Endpoint[]): void {
    const m = this.tableSize;
    const table: Array<Endpoint | undefined> = new Array(m).fill(undefined);
    const perms = hosts.map((h) => ({ h, offset: hash32(`${h.key}#o`) % m, skip: (hash32(`${h.key}#s`) % (m - 1)) + 1, next: 0, weight: Math.max(1, h.weight) }));
    const maxWeight = Math.max(...perms.map((p) => p.weight));
    let filled = 0;
    for (let round = 0; filled < m; round++) {
      for (const p of perms) {
        // Weighted Maglev: a host takes a turn in proportion to its weight.
        if ((round % maxWeight) >= p.weight) continue;
        let c = (p.offset + p.next * p.skip) % m;
        while (table[c] !== undefined) {
          p.next++;
          c = (p.offset + p.next * p.skip) % m;
        }
        table[c] = p.h;
        p.next++;
        if (++filled === m) break;
      }
    }
    this.table = table as Endpoint[];
    this.builtFor = hosts;
  }

  pick(hosts: Endpoint[], hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    if (hosts.length === 0) return undefined;
    if (this.builtFor !== hosts) this.build(hosts);
    const h = hash ?? Math.floor(Math.random() * 0xffffffff);
    const e = this.table[h % this.table.length];
    if (!skip || !skip(e)) return e;
    return firstAllowed(hosts, h % hosts.length, skip);
  }
}

registerLbPolicy("MAGLEV", (o) => new Maglev(o.tableSize || 65537));
