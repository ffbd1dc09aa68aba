// RANDOM: a uniform draw over the hosts (the next allowed one when the draw is skipped).
import type { Endpoint } from "../endpoint.js";
import { firstAllowed, type LoadBalancer, registerLbPolicy } from "./lb-policy.js";

export class RandomLb implements LoadBalancer {
  constructor(private readonly random: () => number = Math.random) {}

  pick(hosts: Endpoint[], _hash: number | undefined, skip?: (e: Endpoint) => boolean): Endpoint | undefined {
    if (hosts.length === 0) return undefined;
    return firstAllowed(hosts, Math.floor(this.random() * hosts.length), skip);
  }
}

registerLbPolicy("RANDOM", () => new RandomLb());
