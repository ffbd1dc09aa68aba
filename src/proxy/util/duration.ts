// Converts decoded protobuf Durations and wrappers into plain numbers once, at config time.
export interface DurationLike {
  seconds: number | string;
  nanos: number;
}

/** Milliseconds of a Duration, or `fallback` when it is unset. */
export function durationMs(d: DurationLike | null | undefined, fallback: number): number {
  if (!d) return fallback;
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}

export function wrapped<T>(w: { value: T } | null | undefined, fallback: T): T {
  return w ? w.value : fallback;
}
