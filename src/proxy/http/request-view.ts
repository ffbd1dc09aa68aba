// The read-only view of a downstream request that route matching and filters work on, whatever the HTTP version.
import type { IncomingHttpHeaders } from "node:http";

export interface RequestView {
  method: string;
  /** The :path as received, with its query string. */
  path: string;
  /** The path without the query string. */
  pathOnly: string;
  /** :authority or Host, lower-cased. */
  authority: string;
  scheme: "http" | "https";
  headers: IncomingHttpHeaders;
  header(name: string): string | undefined;
  query(): URLSearchParams;
}

/** Builds a view over Node's lower-cased header object; repeated headers read as one comma-joined value, as Envoy does. */
export function requestView(method: string, path: string, authority: string, scheme: "http" | "https", headers: IncomingHttpHeaders): RequestView {
  const q = path.indexOf("?");
  let query: URLSearchParams | undefined;
  return {
    method,
    path,
    pathOnly: q < 0 ? path : path.slice(0, q),
    authority: authority.toLowerCase(),
    scheme,
    headers,
    header(name: string): string | undefined {
      switch (name) {
        case ":method": return method;
        case ":path": return path;
        case ":authority": return authority;
        case ":scheme": return scheme;
      }
      const v = headers[name];
      if (v === undefined) return undefined;
      return Array.isArray(v) ? v.join(",") : v;
    },
    query(): URLSearchParams {
      query ??= new URLSearchParams(q < 0 ? "" : path.slice(q + 1));
      return query;
    },
  };
}
