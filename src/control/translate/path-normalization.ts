// MeshConfig pathNormalization as HCM fields, as Istio's pilot sets them on every HTTP connection manager:
// NONE; BASE = normalize_path (RFC 3986); MERGE_SLASHES = BASE + merge_slashes; DECODE_AND_MERGE_SLASHES = that and
// %2F/%5C decoded (UNESCAPE_AND_FORWARD). Our default is MERGE_SLASHES: Istio's BASE leaves `//details/0` past a
// DENY on `/details/*`, which issue #25 counts as a bypass.
export const PATH_NORMALIZATION_MODES = ["NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"] as const;
export type PathNormalizationMode = (typeof PATH_NORMALIZATION_MODES)[number];

export const DEFAULT_PATH_NORMALIZATION: PathNormalizationMode = "MERGE_SLASHES";

export function hcmPathNormalization(mode: PathNormalizationMode = DEFAULT_PATH_NORMALIZATION): Record<string, unknown> {
  switch (mode) {
    case "NONE": return {};
    case "BASE": return { normalize_path: true };
    case "MERGE_SLASHES": return { normalize_path: true, merge_slashes: true };
    case "DECODE_AND_MERGE_SLASHES": return { normalize_path: true, merge_slashes: true, path_with_escaped_slashes_action: "UNESCAPE_AND_FORWARD" };
  }
}
