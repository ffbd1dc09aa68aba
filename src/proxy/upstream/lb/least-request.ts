// LEAST_REQUEST: power of N choices (Envoy's default choice_count 2) on active requests, weight-aware.
import type { Endpoint } from "../endpoint.js";
import { type LoadBalancer, registerLbPolicy } from "./lb-policy.js";

export class LeastRequest implements LoadBalancer {
  constructor(private readonly choices = 2, private readonly random: () => number = Math.random) {}

  pick(hosts: Endpoint[], _hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    const pool = skip ? hosts.filter((h) => !skip(h)) : hosts;
    if (pool.length === 0) return undefined;
    if (pool.length === 1) return pool[0];
    let best: Endpoint | undefined;
    let bestScore = Infinity;
    for (let i = 0; i < this.choices; i++) {
      const e = pool[Math.floor(this.random() * pool.length)];
      const score = (e.activeRequests + 1) / Math.max(1, e.weight);
      if (score < bestScore) {
        bestScore = score;
        best = e;
      }
    }
    return best;
  }
}

registerLbPolicy("LEAST_REQUEST", (o) => new LeastRequest(o.choiceCount || 2));
