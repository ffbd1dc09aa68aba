// Load balancers over a host set: round robin (weighted), least request (power of two choices), random, ring hash
// and Maglev. Each is built when the host set changes; pick() only indexes and compares.
import type { Endpoint } from "./endpoint.js";

export interface LoadBalancer {
  /** `hash` is the request's hash-policy value (ring hash, Maglev); `skip` excludes hosts (retry previous_hosts). */
  pick(hosts: Endpoint[], hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined;
}

/** 32-bit FNV-1a over a string, then a murmur3 finaliser for spread. Stable across processes, as hash LB needs. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function firstAllowed(hosts: Endpoint[], start: number, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
  for (let i = 0; i < hosts.length; i++) {
    const e = hosts[(start + i) % hosts.length];
    if (!skip || !skip(e)) return e;
  }
  return undefined;
}

/** Smooth weighted round robin (nginx's): even spread, honours weights, deterministic. */
export class RoundRobin implements LoadBalancer {
  private current = new Map<string, number>();
  private next = 0;

  pick(hosts: Endpoint[], _hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    if (hosts.length === 0) return undefined;
    if (hosts.every((h) => h.weight === hosts[0].weight)) {
      const e = firstAllowed(hosts, this.next % hosts.length, skip);
      this.next = (this.next + 1) % 1_000_000_007;
      return e;
    }
    let total = 0;
    let best: Endpoint | undefined;
    let bestScore = -Infinity;
    for (const h of hosts) {
      const w = Math.max(1, h.weight);
      const score = (this.current.get(h.key) ?? 0) + w;
      this.current.set(h.key, score);
      total += w;
      if ((!skip || !skip(h)) && score > bestScore) {
        bestScore = score;
        best = h;
      }
    }
    if (best) this.current.set(best.key, bestScore - total);
    return best;
  }
}

export class RandomLb implements LoadBalancer {
  pick(hosts: Endpoint[], _hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    if (hosts.length === 0) return undefined;
    return firstAllowed(hosts, Math.floor(Math.random() * hosts.length), skip);
  }
}

/** Power of two choices on active requests (Envoy's default choice_count 2), weight-aware. */
export class LeastRequest implements LoadBalancer {
  constructor(private readonly choices = 2) {}

  pick(hosts: Endpoint[], _hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    const pool = skip ? hosts.filter((h) => !skip(h)) : hosts;
    if (pool.length === 0) return undefined;
    if (pool.length === 1) return pool[0];
    let best: Endpoint | undefined;
    let bestScore = Infinity;
    for (let i = 0; i < this.choices; i++) {
      const e = pool[Math.floor(Math.random() * pool.length)];
      const score = (e.activeRequests + 1) / Math.max(1, e.weight);
      if (score < bestScore) {
        bestScore = score;
        best = e;
      }
    }
    return best;
  }
}

/** Ketama-style ring: each host gets ring slots in proportion to its weight; a request goes to the next slot clockwise. */
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

/** Maglev: a fixed-size lookup table filled from per-host permutations (table size is prime, Envoy's default 65537). */
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

export function createLoadBalancer(policy: string, opts: { choiceCount?: number; minRingSize?: number; maxRingSize?: number; tableSize?: number } = {}): LoadBalancer {
  switch (policy) {
    case "ROUND_ROBIN": return new RoundRobin();
    case "LEAST_REQUEST": return new LeastRequest(opts.choiceCount || 2);
    case "RANDOM": return new RandomLb();
    case "RING_HASH": return new RingHash(opts.minRingSize || 1024, opts.maxRingSize || 8 * 1024 * 1024);
    case "MAGLEV": return new Maglev(opts.tableSize || 65537);
    default: throw new Error(`lb_policy ${policy} is not supported (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV are)`);
  }
}
