// Flag value checks shared by the commands.

/** A port flag's value (0 = any free port), `fallback` when absent; throws naming the flag when invalid. */
export function portFlag(flag: string, v: string | undefined, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new Error(`${flag} "${v}" is not a port (0-65535, 0 = any free port)`);
  return n;
}
