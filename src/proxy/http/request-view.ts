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

/** A view over Node's lower-cased header object; repeated headers read as one comma-joined value, as Envoy does. */
class HeaderView implements RequestView {
  readonly pathOnly: string;
  readonly authority: string;
  private parsedQuery: URLSearchParams | undefined;

  constructor(readonly method: string, readonly path: string, private readonly rawAuthority: string, readonly scheme: "http" | "https", readonly headers: IncomingHttpHeaders) {
    const q = path.indexOf("?");
    this.pathOnly = q < 0 ? path : path.slice(0, q);
    this.authority = rawAuthority.toLowerCase();
  }

  header(name: string): string | undefined {
    switch (name) {
      case ":method": return this.method;
      case ":path": return this.path;
      case ":authority": return this.rawAuthority;
      case ":scheme": return this.scheme;
    }
    const v = this.headers[name];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? v.join(",") : v;
  }

  query(): URLSearchParams {
    if (!this.parsedQuery) {
      const q = this.path.indexOf("?");
      this.parsedQuery = new URLSearchParams(q < 0 ? "" : this.path.slice(q + 1));
    }
    return this.parsedQuery;
  }
}

export function requestView(method: string, path: string, authority: string, scheme: "http" | "https", headers: IncomingHttpHeaders): RequestView {
  return new HeaderView(method, path, authority, scheme, headers);
}
