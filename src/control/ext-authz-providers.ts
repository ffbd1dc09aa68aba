// MeshConfig extensionProviders of kind envoyExtAuthzHttp: the HTTP authorization services CUSTOM
// AuthorizationPolicies name. Checked field by field; anything Trellis does not honour is refused by name.
import { TELEMETRY_PROVIDER_KINDS } from "./telemetry-providers.js";

export interface ExtAuthzHttpProvider {
  name: string;
  /** The service's host (a mesh service's FQDN or short name, or a ServiceEntry host) and port. */
  service: string;
  port: number;
  timeoutMs?: number;
  pathPrefix?: string;
  failOpen: boolean;
  statusOnError?: number;
  includeRequestHeadersInCheck: string[];
  includeAdditionalHeadersInCheck: Record<string, string>;
  headersToUpstreamOnAllow: string[];
  headersToDownstreamOnDeny: string[];
  headersToDownstreamOnAllow: string[];
}

const FIELDS = "service, port, timeout, pathPrefix, failOpen, statusOnError, includeRequestHeadersInCheck, includeAdditionalHeadersInCheck, headersToUpstreamOnAllow, headersToDownstreamOnDeny, headersToDownstreamOnAllow";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string, errors: string[]): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === "")) {
    errors.push(`${where} must be a list of header names (exact, or with a leading or trailing *)`);
    return [];
  }
  return (v as string[]).map((x) => x.toLowerCase());
}

/** Parses `extensionProviders`' envoyExtAuthzHttp entries; telemetry kinds are left to telemetry-providers.ts, others refused. */
export function parseExtensionProviders(value: unknown, where: string, errors: string[]): ExtAuthzHttpProvider[] {
  if (!Array.isArray(value)) {
    errors.push(`${where} must be a list of {name, envoyExtAuthzHttp: {...}}`);
    return [];
  }
  const out: ExtAuthzHttpProvider[] = [];
  value.forEach((entry, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(entry) || typeof entry.name !== "string" || entry.name === "") return void errors.push(`${at} needs a name`);
    if (out.some((p) => p.name === entry.name)) return void errors.push(`${at}.name "${entry.name}" is used twice`);
    const kinds = Object.keys(entry).filter((k) => k !== "name");
    // Telemetry backends (zipkin, opentelemetry, ...) are read by telemetry-providers.ts.
    if (kinds.length === 1 && (TELEMETRY_PROVIDER_KINDS as readonly string[]).includes(kinds[0])) return;
    if (kinds.length !== 1 || kinds[0] !== "envoyExtAuthzHttp") return void errors.push(`${at} (${entry.name}): only envoyExtAuthzHttp providers are supported, not ${kinds.join(", ") || "none"} (for telemetry: ${TELEMETRY_PROVIDER_KINDS.filter((k) => k !== "envoyOtelAls").join(", ")})`);
    const h = entry.envoyExtAuthzHttp;
    if (!isObject(h)) return void errors.push(`${at}.envoyExtAuthzHttp must be a mapping`);
    const p: ExtAuthzHttpProvider = { name: entry.name, service: "", port: 0, failOpen: false, includeRequestHeadersInCheck: [], includeAdditionalHeadersInCheck: {}, headersToUpstreamOnAllow: [], headersToDownstreamOnDeny: [], headersToDownstreamOnAllow: [] };
    for (const [k, v] of Object.entries(h)) {
      const f = `${at}.envoyExtAuthzHttp.${k}`;
      switch (k) {
        case "service":
          if (typeof v !== "string" || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) errors.push(`${f} must be a host name (e.g. ext-authz.foo.svc.cluster.local)`);
          else p.service = v;
          break;
        case "port": {
          // Istio's own examples quote it ("8000").
          const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
          if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 65535) errors.push(`${f} must be a port from 1 to 65535`);
          else p.port = n;
          break;
        }
        case "timeout": {
          const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v) : null;
          if (!m) errors.push(`${f} must be a duration such as 500ms or 2s`);
          else p.timeoutMs = Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000);
          break;
        }
        case "pathPrefix":
          if (typeof v !== "string" || !v.startsWith("/")) errors.push(`${f} must start with /`);
          else p.pathPrefix = v;
          break;
        case "failOpen":
          if (typeof v !== "boolean") errors.push(`${f} must be true or false`);
          else p.failOpen = v;
          break;
        case "statusOnError": {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 200 || n > 599) errors.push(`${f} must be an HTTP status such as "403" or "500"`);
          else p.statusOnError = n;
          break;
        }
        case "includeRequestHeadersInCheck": case "headersToUpstreamOnAllow": case "headersToDownstreamOnDeny": case "headersToDownstreamOnAllow":
          p[k] = stringList(v, f, errors);
          break;
        case "includeAdditionalHeadersInCheck":
          if (!isObject(v) || Object.values(v).some((x) => typeof x !== "string")) errors.push(`${f} must map header names to values`);
          else p.includeAdditionalHeadersInCheck = Object.fromEntries(Object.entries(v as Record<string, string>).map(([hk, hv]) => [hk.toLowerCase(), hv]));
          break;
        case "includeRequestBodyInCheck":
          errors.push(`${f}: sending the request body to the authorization service is not supported yet`);
          break;
        default:
          errors.push(`${f} is not supported; Trellis reads ${FIELDS}`);
      }
    }
    if (!p.service) errors.push(`${at}.envoyExtAuthzHttp.service is required`);
    if (!p.port) errors.push(`${at}.envoyExtAuthzHttp.port is required`);
    out.push(p);
  });
  return out;
}
