// Flag value checks shared by the commands.
import { isIP } from "node:net";
import { parseGoDuration } from "../api/formats.js";

/** A port flag's value (0 = any free port), `fallback` when absent; throws naming the flag when invalid. */
export function portFlag(flag: string, v: string | undefined, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535) throw new Error(`${flag} "${v}" is not a port (0-65535, 0 = any free port)`);
  return n;
}

/** A percentage flag (0-100, decimals allowed), `fallback` when absent. */
export function percentFlag(flag: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0 || n > 100) throw new Error(`${flag} "${v}" is not a percentage (0-100, e.g. 1 or 0.5)`);
  return n;
}

/** An OTLP/HTTP collector URL (http only: sidecars export in plaintext to a collector they reach directly). */
export function collectorUrlFlag(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(`${flag} "${v}" is not a URL; write e.g. http://127.0.0.1:4318/v1/traces`);
  }
  if (url.protocol !== "http:") throw new Error(`${flag} "${v}": only http:// collectors are supported`);
  if (url.pathname === "/") url.pathname = "/v1/traces";
  return url.href;
}

/** A duration flag ("15s", "1m"), at least minMs; `fallback` when absent. */
export function durationFlag(flag: string, v: string | undefined, fallback: number, minMs = 0): number {
  if (v === undefined) return fallback;
  const ms = parseGoDuration(v);
  if (ms === undefined) throw new Error(`${flag} "${v}" is not a duration; write e.g. 15s or 1m`);
  if (ms < minMs) throw new Error(`${flag} "${v}" is shorter than the minimum ${minMs / 1000}s`);
  return ms;
}

/** An http(s) URL flag, undefined when absent. */
export function httpUrlFlag(flag: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  try {
    const url = new URL(v);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error();
    return url.href;
  } catch {
    throw new Error(`${flag} "${v}" is not an http(s) URL; write e.g. http://127.0.0.1:9090`);
  }
}

/** "9090/metrics" or, when `defaultPort` is given, "/metrics" (the app's own port): where an app serves Prometheus metrics. */
export function appMetricsFlag(flag: string, v: string | undefined, defaultPort?: number): { port: number; path: string } | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d{1,5})?(\/[\x21-\x7e]*)$/.exec(v);
  const port = m?.[1] ? Number(m[1]) : defaultPort;
  if (!m || port === undefined || port < 1 || port > 65535) {
    throw new Error(`${flag} "${v}" must be PORT/PATH${defaultPort !== undefined ? " or /PATH (the app's port)" : ""}, e.g. 9090/metrics, as Istio's prometheus.io/port and prometheus.io/path annotations say`);
  }
  return { port, path: m[2] };
}

/** A DNS server flag, "IP:PORT" or an IP (port 53); "[v6]:PORT" for IPv6. */
export function dnsServerFlag(flag: string, v: string): { address: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(v) ?? /^([^:]+)(?::(\d+))?$/.exec(v);
  const port = m?.[2] === undefined ? 53 : Number(m[2]);
  if (!m || isIP(m[1]) === 0 || !(port >= 1 && port <= 65535)) throw new Error(`${flag} "${v}" is not a DNS server; write an IP and port such as 127.0.0.1:5353 (port 53 when omitted)`);
  return { address: m[1], port };
}
