// Validation results that carry field paths instead of throwing (they become NACK texts and CLI errors).
export interface FieldError {
  /** Dotted field path from the root of the document, e.g. `filter_chains[0].filters[1].typed_config.route_config`. */
  path: string;
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function fail<T = never>(path: string, message: string): Result<T> {
  return { ok: false, errors: [{ path, message }] };
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return base ? `${base}.${key}` : key;
}

/** One line per error, for NACK `error_detail` and CLI output. */
export function formatErrors(errors: FieldError[]): string {
  return errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ");
}
