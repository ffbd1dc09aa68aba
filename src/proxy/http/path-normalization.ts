// The HTTP connection manager's path normalization, before filters (RBAC) and routing see the path and before it is
// forwarded, as Envoy's normalize_path, merge_slashes and path_with_escaped_slashes_action do. Without it
// `/./details/0`, `//details/0` and `/%64etails/0` slip past a DENY on `/details/*` and reach the app as `/details/0`.
export interface PathNormalization {
  /** RFC 3986: decode percent-encoded unreserved characters, upper-case other escapes, "\" -> "/", drop dot segments. */
  normalize: boolean;
  mergeSlashes: boolean;
  /** %2F and %5C decoded first (Istio's DECODE_AND_MERGE_SLASHES: UNESCAPE_AND_FORWARD). */
  unescapeSlashes: boolean;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

function decodeUnreserved(path: string): string {
  return path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(c) ? c : m.toUpperCase();
  });
}

/** RFC 3986 section 5.2.4, on a path that starts with "/". */
function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split("/").slice(1);
  segments.forEach((seg, i) => {
    const last = i === segments.length - 1;
    if (seg === ".") {
      if (last) out.push("");
    } else if (seg === "..") {
      out.pop();
      if (last) out.push("");
    } else out.push(seg);
  });
  return "/" + out.join("/");
}

/** The normalized path (query string untouched); undefined when the path is not origin-form ("*", absolute URLs). */
export function normalizePath(pathAndQuery: string, opts: PathNormalization): string | undefined {
  if (!pathAndQuery.startsWith("/")) return undefined;
  const q = pathAndQuery.indexOf("?");
  let path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? "" : pathAndQuery.slice(q);
  if (opts.unescapeSlashes) path = path.replace(/%2F/gi, "/").replace(/%5C/gi, "\\");
  if (opts.normalize) path = removeDotSegments(decodeUnreserved(path).replace(/\\/g, "/"));
  if (opts.mergeSlashes) path = path.replace(/\/{2,}/g, "/");
  return path + query;
}
