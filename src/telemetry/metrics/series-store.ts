// The embedded time-series store: samples of each series in time order, dropped past the retention window, with a
// cap on the number of series, so memory stays bounded however long the mesh runs.
export interface Series {
  name: string;
  labels: Record<string, string>;
  /** Sample times (Unix ms) and values, oldest first; parallel arrays. */
  times: number[];
  values: number[];
}

export class SeriesStore {
  private readonly series = new Map<string, Series>();
  /** Series by metric name, for selectors. */
  private readonly byName = new Map<string, Set<Series>>();
  droppedSeries = 0;

  constructor(readonly retentionMs = 3_600_000, readonly maxSeries = 50_000) {}

  get size(): { series: number; samples: number } {
    let samples = 0;
    for (const s of this.series.values()) samples += s.times.length;
    return { series: this.series.size, samples };
  }

  append(name: string, labels: Record<string, string>, time: number, value: number): void {
    const key = seriesKey(name, labels);
    let s = this.series.get(key);
    if (!s) {
      if (this.series.size >= this.maxSeries) {
        this.droppedSeries++;
        return;
      }
      s = { name, labels, times: [], values: [] };
      this.series.set(key, s);
      let set = this.byName.get(name);
      if (!set) this.byName.set(name, (set = new Set()));
      set.add(s);
    }
    if (s.times.length > 0 && time <= s.times[s.times.length - 1]) return;
    s.times.push(time);
    s.values.push(value);
  }

  /** Drops samples older than the retention window, and series left empty. */
  compact(now: number): void {
    const oldest = now - this.retentionMs;
    for (const [key, s] of this.series) {
      let drop = 0;
      while (drop < s.times.length && s.times[drop] < oldest) drop++;
      if (drop === 0) continue;
      s.times.splice(0, drop);
      s.values.splice(0, drop);
      if (s.times.length === 0) {
        this.series.delete(key);
        this.byName.get(s.name)?.delete(s);
      }
    }
  }

  named(name: string): Iterable<Series> {
    return this.byName.get(name) ?? [];
  }
}

export function seriesKey(name: string, labels: Record<string, string>): string {
  let key = name;
  for (const k of Object.keys(labels).sort()) key += `\u0000${k}\u0001${labels[k]}`;
  return key;
}
