// Evaluates the PromQL subset over the embedded store with Prometheus' semantics: 5-minute lookback for instant
// selectors, extrapolated rate() with counter resets, histogram_quantile's bucket interpolation, label matching.
import { parsePromQL, PromQLError, type Matcher, type Node } from "./promql-parse.js";
import type { SeriesStore } from "./series-store.js";

export type Labels = Record<string, string>;
export type Sample = { labels: Labels; value: number };
type Value = { kind: "scalar"; value: number } | { kind: "vector"; samples: Sample[] } | { kind: "matrix"; series: Array<{ labels: Labels; times: number[]; values: number[] }> };

const LOOKBACK_MS = 5 * 60_000;

function matches(labels: Labels, m: Matcher[]): boolean {
  for (const x of m) {
    const v = labels[x.label] ?? "";
    if (x.op === "=" ? v !== x.value : x.op === "!=" ? v === x.value : x.op === "=~" ? !x.re!.test(v) : x.re!.test(v)) return false;
  }
  return true;
}

function withName(labels: Labels, name: string): Labels {
  return { __name__: name, ...labels };
}

function dropName(labels: Labels): Labels {
  const { __name__: _n, ...rest } = labels;
  return rest;
}

function select(store: SeriesStore, node: Extract<Node, { type: "selector" }>, t: number): Value {
  if (!node.name) throw new PromQLError("a selector without a metric name is not supported; name the metric");
  if (node.rangeMs) {
    const series = [];
    for (const s of store.named(node.name)) {
      if (!matches(s.labels, node.matchers)) continue;
      const times: number[] = [];
      const values: number[] = [];
      for (let i = 0; i < s.times.length; i++) if (s.times[i] > t - node.rangeMs && s.times[i] <= t) { times.push(s.times[i]); values.push(s.values[i]); }
      if (times.length) series.push({ labels: withName(s.labels, s.name), times, values });
    }
    return { kind: "matrix", series };
  }
  const samples: Sample[] = [];
  for (const s of store.named(node.name)) {
    if (!matches(s.labels, node.matchers)) continue;
    for (let i = s.times.length - 1; i >= 0; i--) {
      if (s.times[i] > t) continue;
      if (s.times[i] > t - LOOKBACK_MS) samples.push({ labels: withName(s.labels, s.name), value: s.values[i] });
      break;
    }
  }
  return { kind: "vector", samples };
}

/** Prometheus' extrapolatedRate for counters. */
function extrapolatedRate(times: number[], values: number[], rangeStart: number, rangeEnd: number, perSecond: boolean): number | undefined {
  if (times.length < 2) return undefined;
  let delta = values[values.length - 1] - values[0];
  for (let i = 1; i < values.length; i++) if (values[i] < values[i - 1]) delta += values[i - 1];
  const sampled = (times[times.length - 1] - times[0]) / 1000;
  const avg = sampled / (times.length - 1);
  let toStart = (times[0] - rangeStart) / 1000;
  const toEnd = (rangeEnd - times[times.length - 1]) / 1000;
  if (delta > 0 && values[0] >= 0) toStart = Math.min(toStart, sampled * (values[0] / delta));
  const threshold = avg * 1.1;
  let interval = sampled;
  interval += toStart < threshold ? toStart : avg / 2;
  interval += toEnd < threshold ? toEnd : avg / 2;
  const result = delta * (interval / sampled);
  return perSecond ? result / ((rangeEnd - rangeStart) / 1000) : result;
}

function bucketQuantile(q: number, buckets: Array<{ le: number; count: number }>): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  buckets.sort((a, b) => a.le - b.le);
  if (buckets.length < 2 || buckets[buckets.length - 1].le !== Infinity) return NaN;
  // Counts are cumulative; make them monotonic as Prometheus does.
  for (let i = 1; i < buckets.length; i++) buckets[i].count = Math.max(buckets[i].count, buckets[i - 1].count);
  const total = buckets[buckets.length - 1].count;
  if (total === 0) return NaN;
  const rank = q * total;
  const b = buckets.findIndex((x) => x.count >= rank);
  if (b === buckets.length - 1) return buckets[buckets.length - 2].le;
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  let start = 0;
  const end = buckets[b].le;
  let count = buckets[b].count;
  let r = rank;
  if (b > 0) {
    start = buckets[b - 1].le;
    count -= buckets[b - 1].count;
    r -= buckets[b - 1].count;
  }
  return start + (end - start) * (r / count);
}

function groupKey(labels: Labels, by: string[] | undefined, without: string[] | undefined): { key: string; labels: Labels } {
  const out: Labels = {};
  if (by) {
    for (const k of by) if (labels[k] !== undefined && labels[k] !== "") out[k] = labels[k];
  } else {
    const drop = new Set([...(without ?? []), "__name__"]);
    for (const k in labels) if (!drop.has(k)) out[k] = labels[k];
  }
  return { key: JSON.stringify(Object.entries(out).sort()), labels: out };
}

function signature(labels: Labels, on: string[] | undefined, ignoring: string[] | undefined): string {
  return groupKey(labels, on, ignoring).key;
}

const ARITH: Record<string, (a: number, b: number) => number> = {
  "+": (a, b) => a + b, "-": (a, b) => a - b, "*": (a, b) => a * b, "/": (a, b) => a / b, "%": (a, b) => a % b,
};
const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  "==": (a, b) => a === b, "!=": (a, b) => a !== b, ">": (a, b) => a > b, "<": (a, b) => a < b, ">=": (a, b) => a >= b, "<=": (a, b) => a <= b,
};

function evaluate(store: SeriesStore, node: Node, t: number): Value {
  switch (node.type) {
    case "number":
      return { kind: "scalar", value: node.value };
    case "selector":
      return select(store, node, t);
    case "call": {
      if (node.fn === "rate" || node.fn === "irate" || node.fn === "increase") {
        const arg = node.args[0];
        if (node.args.length !== 1 || arg.type !== "selector" || !arg.rangeMs) throw new PromQLError(`${node.fn}() takes one range selector, e.g. ${node.fn}(istio_requests_total[5m])`);
        const m = select(store, arg, t) as Extract<Value, { kind: "matrix" }>;
        const samples: Sample[] = [];
        for (const s of m.series) {
          let v: number | undefined;
          if (node.fn === "irate") {
            const n = s.times.length;
            if (n >= 2) {
              const last = s.values[n - 1];
              const prev = s.values[n - 2];
              v = (last < prev ? last : last - prev) / ((s.times[n - 1] - s.times[n - 2]) / 1000);
            }
          } else v = extrapolatedRate(s.times, s.values, t - arg.rangeMs, t, node.fn === "rate");
          if (v !== undefined) samples.push({ labels: dropName(s.labels), value: v });
        }
        return { kind: "vector", samples };
      }
      if (node.fn === "histogram_quantile") {
        const q = node.args.length === 2 ? evaluate(store, node.args[0], t) : undefined;
        if (q?.kind !== "scalar") throw new PromQLError("histogram_quantile() takes a number and a vector of buckets with an le label");
        const v = vector(evaluate(store, node.args[1], t), "histogram_quantile");
        const groups = new Map<string, { labels: Labels; buckets: Array<{ le: number; count: number }> }>();
        for (const s of v) {
          if (s.labels.le === undefined) continue;
          const g = groupKey(s.labels, undefined, ["le"]);
          let entry = groups.get(g.key);
          if (!entry) groups.set(g.key, (entry = { labels: g.labels, buckets: [] }));
          entry.buckets.push({ le: s.labels.le === "+Inf" ? Infinity : Number(s.labels.le), count: s.value });
        }
        return { kind: "vector", samples: [...groups.values()].map((g) => ({ labels: g.labels, value: bucketQuantile(q.value, g.buckets) })) };
      }
      const v = vector(evaluate(store, node.args[0], t), node.fn);
      const second = node.args[1] ? evaluate(store, node.args[1], t) : undefined;
      const f = node.fn === "abs" ? Math.abs : node.fn === "round" ? Math.round : (x: number) => Math.max(x, second?.kind === "scalar" ? second.value : -Infinity);
      return { kind: "vector", samples: v.map((s) => ({ labels: dropName(s.labels), value: f(s.value) })) };
    }
    case "aggregate": {
      const v = vector(evaluate(store, node.expr, t), node.op);
      const groups = new Map<string, { labels: Labels; values: number[] }>();
      for (const s of v) {
        const g = groupKey(s.labels, node.by ?? (node.without ? undefined : []), node.without);
        let entry = groups.get(g.key);
        if (!entry) groups.set(g.key, (entry = { labels: g.labels, values: [] }));
        entry.values.push(s.value);
      }
      const reduce = { sum: (x: number[]) => x.reduce((a, b) => a + b, 0), max: (x: number[]) => Math.max(...x), min: (x: number[]) => Math.min(...x), avg: (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length, count: (x: number[]) => x.length }[node.op];
      return { kind: "vector", samples: [...groups.values()].map((g) => ({ labels: g.labels, value: reduce(g.values) })) };
    }
    case "binary": {
      const lhs = evaluate(store, node.lhs, t);
      const rhs = evaluate(store, node.rhs, t);
      const arith: ((a: number, b: number) => number) | undefined = ARITH[node.op];
      const cmp: ((a: number, b: number) => boolean) | undefined = COMPARE[node.op];
      const isArith = arith !== undefined;
      const apply = (a: number, b: number): number | undefined => {
        if (arith) return arith(a, b);
        const ok = cmp!(a, b);
        return node.bool ? (ok ? 1 : 0) : ok ? a : undefined;
      };
      if (lhs.kind === "scalar" && rhs.kind === "scalar") return { kind: "scalar", value: arith ? arith(lhs.value, rhs.value) : cmp!(lhs.value, rhs.value) ? 1 : 0 };
      if (lhs.kind === "scalar" || rhs.kind === "scalar") {
        const vec = vector(lhs.kind === "scalar" ? rhs : lhs, node.op);
        const k = (lhs.kind === "scalar" ? lhs.value : (rhs as { value: number }).value);
        const samples: Sample[] = [];
        for (const s of vec) {
          const r = lhs.kind === "scalar" ? apply(k, s.value) : apply(s.value, k);
          // A comparison without bool filters and keeps the vector's own value.
          if (r !== undefined) samples.push({ labels: isArith || node.bool ? dropName(s.labels) : s.labels, value: !isArith && !node.bool ? s.value : r });
        }
        return { kind: "vector", samples };
      }
      const right = new Map<string, Sample>();
      for (const s of vector(rhs, node.op)) {
        const sig = signature(s.labels, node.on, node.ignoring);
        if (right.has(sig)) throw new PromQLError(`"${node.op}": several series on the right share the labels ${sig}; aggregate them first`);
        right.set(sig, s);
      }
      const samples: Sample[] = [];
      for (const s of vector(lhs, node.op)) {
        const other = right.get(signature(s.labels, node.on, node.ignoring));
        if (!other) continue;
        const r = apply(s.value, other.value);
        if (r !== undefined) samples.push({ labels: node.on ? groupKey(s.labels, node.on, undefined).labels : dropName(s.labels), value: r });
      }
      return { kind: "vector", samples };
    }
  }
}

function vector(v: Value, where: string): Sample[] {
  if (v.kind === "vector") return v.samples;
  if (v.kind === "matrix") throw new PromQLError(`${where}: a range vector cannot be used here; wrap it in rate() or increase()`);
  throw new PromQLError(`${where}: a number cannot be used here; give a series`);
}

/** An instant query at t (Unix ms): a vector or a scalar. */
export function instantQuery(store: SeriesStore, query: string, t: number): { resultType: "vector"; result: Sample[] } | { resultType: "scalar"; value: number } {
  const v = evaluate(store, parsePromQL(query), t);
  if (v.kind === "matrix") throw new PromQLError("the query returns a range vector; instant queries need rate(), increase() or an instant selector");
  return v.kind === "scalar" ? { resultType: "scalar", value: v.value } : { resultType: "vector", result: v.samples };
}

/** A range query: the instant query evaluated every step from start to end (Unix ms). */
export function rangeQuery(store: SeriesStore, query: string, start: number, end: number, step: number): Array<{ labels: Labels; points: Array<[number, number]> }> {
  if (step <= 0) throw new PromQLError("step must be positive");
  if ((end - start) / step > 11_000) throw new PromQLError("too many points: at most 11,000 steps per series; use a larger step");
  const node = parsePromQL(query);
  const out = new Map<string, { labels: Labels; points: Array<[number, number]> }>();
  for (let t = start; t <= end; t += step) {
    const v = evaluate(store, node, t);
    const samples = v.kind === "scalar" ? [{ labels: {}, value: v.value }] : vector(v, "query_range");
    for (const s of samples) {
      const key = JSON.stringify(Object.entries(s.labels).sort());
      let series = out.get(key);
      if (!series) out.set(key, (series = { labels: s.labels, points: [] }));
      series.points.push([t, s.value]);
    }
  }
  return [...out.values()];
}
