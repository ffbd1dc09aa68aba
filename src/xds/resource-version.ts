// A resource's own version for incremental xDS: a digest of its encoded bytes, computed once per encoded object
// (the control plane hands many proxies the same encoded resource, so most lookups are cache hits).
import { createHash } from "node:crypto";
import type { AnyValue } from "./resource.js";

const versions = new WeakMap<AnyValue, string>();

export function resourceVersion(any: AnyValue): string {
  let v = versions.get(any);
  if (v === undefined) {
    v = createHash("sha256").update(any.value).digest("base64url").slice(0, 16);
    versions.set(any, v);
  }
  return v;
}
