// What every side-by-side scenario shares: the peers that can run here, rounds with the peers' order rotated each
// round (A, B, A, B, ...), and a table of medians (min–max) with ratios of Trellis to each peer.
import type { Peer, Protocol } from "../peers/chain.js";
import { fmt, type Spread, spread } from "../lib/stats.js";

export function runnable(candidates: Peer[], protocol?: Protocol): Peer[] {
  return candidates.filter((p) => {
    const why = p.available(protocol);
    if (why) console.log(`  skipping ${p.name}: ${why}`);
    return !why;
  });
}

/** Runs `sample` for every peer in every round, rotating the order so no peer always runs first. */
export async function interleaved<T>(peers: Peer[], rounds: number, sample: (peer: Peer, round: number) => Promise<T>): Promise<Map<string, T[]>> {
  const out = new Map<string, T[]>(peers.map((p) => [p.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const peer of peers.map((_, i) => peers[(i + round) % peers.length])) out.get(peer.name)!.push(await sample(peer, round));
  }
  return out;
}

/** Per peer, the spread of each named figure over the rounds. */
export function summarize<T>(samples: Map<string, T[]>, figures: Record<string, (s: T) => number>): Record<string, Record<string, Spread>> {
  const summary: Record<string, Record<string, Spread>> = {};
  for (const [peer, list] of samples) {
    summary[peer] = Object.fromEntries(Object.entries(figures).map(([name, f]) => [name, spread(list.map(f))]));
  }
  return summary;
}

export interface Column { figure: string; title: string; digits: number }

export function printTable(summary: Record<string, Record<string, Spread>>, columns: Column[]): void {
  const width = (c: Column) => Math.max(c.title.length, 22);
  console.log(`\n  ${"peer".padEnd(16)} ${columns.map((c) => c.title.padEnd(width(c))).join(" ")}`);
  for (const [peer, s] of Object.entries(summary)) {
    console.log(`  ${peer.padEnd(16)} ${columns.map((c) => (Number.isFinite(s[c.figure]?.median) ? fmt(s[c.figure], c.digits) : "–").padEnd(width(c))).join(" ")}`);
  }
}

/** `subject`'s median over each rival's, for each figure, printed and returned (below 1.00: smaller for the subject). */
export function printRatios(summary: Record<string, Record<string, Spread>>, figures: Array<{ figure: string; label: string }>, rivals = ["haproxy", "nginx"], subject = "trellis"): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  if (!summary[subject]) return out;
  for (const rival of rivals) {
    if (!summary[rival]) continue;
    out[rival] = {};
    const parts = figures.map(({ figure, label }) => {
      const [mine, theirs] = [summary[subject][figure].median, summary[rival][figure].median];
      // An added latency at or below zero is the rival inside direct's noise: no ratio to take.
      if (!(theirs > 0) || !(mine > 0)) return `${label} n/a (${mine.toFixed(3)} vs ${theirs.toFixed(3)})`;
      out[rival][figure] = mine / theirs;
      return `${label} ${(mine / theirs).toFixed(2)}x`;
    });
    console.log(`  ${subject}/${rival}: ${parts.join("; ")}`);
  }
  return out;
}
