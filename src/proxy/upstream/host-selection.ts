// Envoy's choice of host set across priorities and localities, computed once per assignment or health change:
// per-priority health scaled by the overprovisioning factor, load spilling from a partly healthy priority to the
// next, per-priority panic, and (with locality_weighted_lb_config) locality weights scaled by their availability.
import { type Endpoint, usable } from "./endpoint.js";
import type { LoadBalancer } from "./load-balancer.js";

/** One LocalityLbEndpoints group of an assignment. */
export interface LocalityGroup {
  priority: number;
  locality: string;
  /** LocalityLbEndpoints.load_balancing_weight; 0 when unset (Envoy then never picks the locality by weight). */
  weight: number;
  hosts: Endpoint[];
}

/** A host set the balancer picks within, with its own load balancer (ring hash and Maglev cache per set). */
export interface HostSet {
  hosts: Endpoint[];
  lb: LoadBalancer;
}

interface LocalityChoice {
  set: HostSet;
  weight: number;
  /** Smooth weighted round robin state (Envoy picks localities with a weighted round-robin schedule). */
  current: number;
}

export interface PriorityState {
  /** The set each priority's requests go to when no locality is picked (all hosts in panic, else healthy ones). */
  sets: Array<HostSet | undefined>;
  panic: boolean[];
  /** Cumulative percentage of load per priority: a draw d in [0,100) goes to the first priority with d < cumulative. */
  cumulativeLoad: number[];
  /** Per priority, localities with a positive effective weight (only with locality weighted LB, not in panic). */
  localities: Array<LocalityChoice[] | undefined>;
  localityTotals: number[];
  /** The earliest time an ejection ends: the state must be recomputed then. */
  validUntil: number;
  /** Ring hash and Maglev: the request's hash picks the priority and locality too, so a key keeps its host. */
  hashed: boolean;
}

export interface SelectionOptions {
  /** Percent, Envoy's default 140. */
  overprovisioningFactor: number;
  /** Percent, Envoy's default 50. */
  panicThreshold: number;
  localityWeighted: boolean;
  /** The policy is ring hash or Maglev (Envoy's thread-aware balancers choose priorities by the request's hash). */
  hashed: boolean;
  newLb: () => LoadBalancer;
}

/**
 * Envoy's LoadBalancerBase::recalculatePerPriorityState and recalculatePerPriorityPanic: health per priority is
 * min(100, factor * healthy / total); the normalised total is min(100, their sum); each priority in turn takes
 * min(remaining, health * 100 / total) of the load. No priority panics while the total is 100; when nothing is
 * healthy every priority panics and load follows host counts.
 */
export function computeState(groups: LocalityGroup[], opts: SelectionOptions, now: number): PriorityState {
  const levels: Endpoint[][] = [];
  const groupsByLevel: LocalityGroup[][] = [];
  for (const g of groups) {
    (levels[g.priority] ??= []).push(...g.hosts);
    (groupsByLevel[g.priority] ??= []).push(g);
  }
  const n = levels.length;
  let validUntil = Infinity;
  for (const level of levels) for (const e of level ?? []) if (e.ejectedUntil > now) validUntil = Math.min(validUntil, e.ejectedUntil);
  const healthyByLevel = levels.map((level) => (level ?? []).filter((e) => usable(e, now)));
  const health = levels.map((level, i) => (level?.length ? Math.min(100, Math.floor((opts.overprovisioningFactor * healthyByLevel[i].length) / level.length)) : 0));
  const total = Math.min(100, health.reduce((a, b) => a + b, 0));
  const load = new Array<number>(n).fill(0);
  const panic = new Array<boolean>(n).fill(false);
  if (total === 0) {
    const hosts = levels.reduce((s, l) => s + (l?.length ?? 0), 0);
    for (let i = 0; i < n; i++) {
      panic[i] = true;
      if (hosts > 0) load[i] = Math.floor((100 * (levels[i]?.length ?? 0)) / hosts);
    }
    const first = levels.findIndex((l) => l?.length);
    if (first >= 0) load[first] += 100 - load.reduce((a, b) => a + b, 0);
  } else {
    let remaining = 100;
    for (let i = 0; i < n; i++) {
      load[i] = Math.min(remaining, Math.floor((health[i] * 100) / total));
      remaining -= load[i];
    }
    // Rounding leaves a few percent: Envoy gives them to the first priority with availability.
    if (remaining > 0) load[health.findIndex((h) => h > 0)] += remaining;
    if (total < 100) for (let i = 0; i < n; i++) panic[i] = !!levels[i]?.length && (healthyByLevel[i].length * 100) / levels[i].length < opts.panicThreshold;
  }
  const cumulativeLoad: number[] = [];
  let acc = 0;
  for (const l of load) cumulativeLoad.push((acc += l));
  const sets: Array<HostSet | undefined> = [];
  const localities: Array<LocalityChoice[] | undefined> = [];
  const localityTotals: number[] = [];
  for (let i = 0; i < n; i++) {
    const level = levels[i];
    if (!level?.length) {
      sets.push(undefined);
      localities.push(undefined);
      localityTotals.push(0);
      continue;
    }
    const hosts = panic[i] ? level : healthyByLevel[i].length === level.length ? level : healthyByLevel[i];
    sets.push({ hosts, lb: opts.newLb() });
    let choices: LocalityChoice[] | undefined;
    if (opts.localityWeighted && !panic[i]) {
      choices = [];
      for (const g of groupsByLevel[i]) {
        const healthy = g.hosts.filter((e) => usable(e, now));
        if (g.weight <= 0 || healthy.length === 0) continue;
        // Envoy's effective weight: the locality's weight times min(1, factor * healthy / total).
        const weight = g.weight * Math.min(1, (opts.overprovisioningFactor / 100) * (healthy.length / g.hosts.length));
        choices.push({ set: { hosts: healthy.length === g.hosts.length ? g.hosts : healthy, lb: opts.newLb() }, weight, current: 0 });
      }
      if (choices.length === 0) choices = undefined;
    }
    localities.push(choices);
    localityTotals.push(choices ? choices.reduce((s, c) => s + c.weight, 0) : 0);
  }
  return { sets, panic, cumulativeLoad, localities, localityTotals, validUntil, hashed: opts.hashed };
}

/**
 * The host set for one request: a priority by its load, then, with locality weights, a locality by smooth weighted
 * round robin. Hash policies draw both from the request's hash instead (remixed, so the share of the hash space a
 * locality gets is spread over its whole ring), so a key keeps going to the same host.
 */
export function chooseSet(state: PriorityState, hash: number | undefined): { set: HostSet; priority: number } | undefined {
  const keyed = state.hashed && hash !== undefined;
  const draw = keyed ? hash % 100 : Math.floor(Math.random() * 100);
  let p = state.cumulativeLoad.findIndex((c) => draw < c);
  if (p < 0 || !state.sets[p]) p = state.sets.findIndex((s) => s !== undefined);
  if (p < 0) return undefined;
  const choices = state.localities[p];
  if (!choices) return { set: state.sets[p]!, priority: p };
  if (keyed) {
    let x = (remix(hash) / 0x100000000) * state.localityTotals[p];
    for (const c of choices) if ((x -= c.weight) < 0) return { set: c.set, priority: p };
    return { set: choices[choices.length - 1].set, priority: p };
  }
  let best = choices[0];
  for (const c of choices) {
    c.current += c.weight;
    if (c.current > best.current) best = c;
  }
  best.current -= state.localityTotals[p];
  return { set: best.set, priority: p };
}

/** A second 32-bit mix of the hash (murmur3's finaliser with other constants), independent of its ring position. */
function remix(h: number): number {
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}
