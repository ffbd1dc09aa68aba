// One way for an extension's factory to decode its typed_config: decodeAny's result turned into the value, or into
// one Error listing every field path at fault (the NACK's text), instead of fifteen copies formatting their own.
import type { FieldError } from "../../xds/result.js";
import { type AnyValue, decodeAny } from "../../xds/resource.js";

/** "path: message; path: message", as NACKs and refusals print field errors. */
export function fieldErrorText(errors: FieldError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join("; ");
}

/** The decoded and validated message; throws an Error naming every field at fault (the update is refused). */
export function typedConfig<T>(any: AnyValue, where: string, prefix = ""): T {
  const r = decodeAny<T>(any, where);
  if (!r.ok) throw new Error(`${prefix}${fieldErrorText(r.errors)}`);
  return r.value;
}
