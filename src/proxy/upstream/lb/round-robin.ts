// ROUND_ROBIN: smooth weighted round robin (nginx's): an even spread that honours weights, deterministic.
import type { Endpoint } from "../endpoint.js";
import { firstAllowed, type LoadBalancer, registerLbPolicy } from "./lb-policy.js";

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

registerLbPolicy("ROUND_ROBIN", () => new RoundRobin());
