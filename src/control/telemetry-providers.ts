// MeshConfig extensionProviders for telemetry (zipkin, opentelemetry, envoyFileAccessLog, prometheus; envoyOtelAls refused)
// and defaultProviders: the backends Telemetry resources name. Checked field by field as Istio's mesh config reads
// them; a field Trellis does not act on is refused by name rather than ignored.

export interface Endpoint {
  /** A mesh service's host (FQDN or short name), a ServiceEntry host, a DNS name or an IP. */
  service: string;
  port: number;
}

export type TelemetryProvider =
  | { name: string; kind: "zipkin"; target: Endpoint; path: string; maxTagLength?: number; traceId64: boolean }
  | { name: string; kind: "opentelemetry"; target: Endpoint; maxTagLength?: number; http?: { path: string; timeoutMs: number; headers: Record<string, string> }; grpc: { timeoutMs: number; metadata: Array<[string, string]> } }
  | { name: string; kind: "envoyFileAccessLog"; path: string; text?: string; labels?: Record<string, string> }
  | { name: string; kind: "prometheus" };

export interface DefaultProviders {
  tracing: string[];
  accessLogging: string[];
  metrics: string[];
}

export const TELEMETRY_PROVIDER_KINDS = ["zipkin", "opentelemetry", "envoyOtelAls", "envoyFileAccessLog", "prometheus"] as const;

type Fields = Record<string, unknown>;

function isObject(v: unknown): v is Fields {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function ms(v: unknown): number | undefined {
  const m = typeof v === "string" ? /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(v) : null;
  return m ? Number(m[1]) * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : 60_000) : undefined;
}

/** Checks `fields` against what is known, reporting each unknown field; returns the known ones. */
function known(v: Fields, allowed: string[], at: string, errors: string[]): Fields {
  for (const k of Object.keys(v)) if (!allowed.includes(k)) errors.push(`${at}.${k} is not supported; Trellis reads ${allowed.join(", ")}`);
  return v;
}

function endpoint(v: Fields, at: string, errors: string[]): Endpoint {
  const service = typeof v.service === "string" && /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i.test(v.service) ? v.service : "";
  if (!service) errors.push(`${at}.service must be a host name (e.g. jaeger-collector.observability.svc.cluster.local) or an IP`);
  // Istio's examples quote ports sometimes.
  const n = typeof v.port === "string" && /^\d+$/.test(v.port) ? Number(v.port) : v.port;
  const port = typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : 0;
  if (!port) errors.push(`${at}.port must be a port from 1 to 65535`);
  return { service, port };
}

function pairs(v: unknown, at: string, errors: string[]): Array<[string, string]> {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((h) => !isObject(h) || typeof h.name !== "string" || !h.name || typeof h.value !== "string")) {
    errors.push(`${at} must be a list of {name, value}`);
    return [];
  }
  return (v as Array<{ name: string; value: string }>).map((h) => [h.name.toLowerCase(), h.value]);
}

function maxTag(v: Fields, at: string, errors: string[]): number | undefined {
  if (v.maxTagLength === undefined) return undefined;
  if (typeof v.maxTagLength !== "number" || !Number.isInteger(v.maxTagLength) || v.maxTagLength < 1) errors.push(`${at}.maxTagLength must be a positive integer`);
  return v.maxTagLength as number;
}

function logFormat(v: unknown, at: string, errors: string[]): { text?: string; labels?: Record<string, string> } {
  if (v === undefined) return {};
  if (!isObject(v)) return errors.push(`${at} must be {text} or {labels}`), {};
  known(v, ["text", "labels"], at, errors);
  if (v.text !== undefined && typeof v.text !== "string") errors.push(`${at}.text must be a string`);
  if (v.labels !== undefined && (!isObject(v.labels) || Object.values(v.labels).some((x) => typeof x !== "string"))) errors.push(`${at}.labels must map names to strings`);
  return { text: v.text as string | undefined, labels: v.labels as Record<string, string> | undefined };
}

const PARSERS: Record<Exclude<(typeof TELEMETRY_PROVIDER_KINDS)[number], "envoyOtelAls">, (name: string, v: Fields, at: string, errors: string[]) => TelemetryProvider> = {
  zipkin: (name, v, at, errors) => {
    known(v, ["service", "port", "maxTagLength", "enable64bitTraceId", "path"], at, errors);
    if (v.path !== undefined && (typeof v.path !== "string" || !v.path.startsWith("/"))) errors.push(`${at}.path must start with / (default /api/v2/spans)`);
    if (v.enable64bitTraceId !== undefined && typeof v.enable64bitTraceId !== "boolean") errors.push(`${at}.enable64bitTraceId must be true or false`);
    return { name, kind: "zipkin", target: endpoint(v, at, errors), path: (v.path as string | undefined) ?? "/api/v2/spans", maxTagLength: maxTag(v, at, errors), traceId64: v.enable64bitTraceId === true };
  },
  opentelemetry: (name, v, at, errors) => {
    known(v, ["service", "port", "maxTagLength", "http", "grpc"], at, errors);
    if (v.http !== undefined && v.grpc !== undefined) errors.push(`${at}: set http or grpc, not both`);
    const http = isObject(v.http) ? known(v.http, ["path", "timeout", "headers"], `${at}.http`, errors) : undefined;
    const grpc = isObject(v.grpc) ? known(v.grpc, ["timeout", "initialMetadata"], `${at}.grpc`, errors) : {};
    if (v.http !== undefined && !http) errors.push(`${at}.http must be a mapping`);
    if (http?.path !== undefined && (typeof http.path !== "string" || !http.path.startsWith("/"))) errors.push(`${at}.http.path must start with / (default /v1/traces)`);
    for (const [t, w] of [[http?.timeout, "http"], [grpc.timeout, "grpc"]] as const) if (t !== undefined && ms(t) === undefined) errors.push(`${at}.${w}.timeout must be a duration such as 500ms or 2s`);
    return {
      name, kind: "opentelemetry", target: endpoint(v, at, errors), maxTagLength: maxTag(v, at, errors),
      http: http ? { path: (http.path as string | undefined) ?? "/v1/traces", timeoutMs: ms(http.timeout) ?? 2000, headers: Object.fromEntries(pairs(http.headers, `${at}.http.headers`, errors)) } : undefined,
      grpc: { timeoutMs: ms(grpc.timeout) ?? 2000, metadata: pairs(grpc.initialMetadata, `${at}.grpc.initialMetadata`, errors) },
    };
  },
  envoyFileAccessLog: (name, v, at, errors) => {
    known(v, ["path", "logFormat"], at, errors);
    if (typeof v.path !== "string" || !v.path.startsWith("/")) errors.push(`${at}.path must be /dev/stdout or an absolute file path`);
    return { name, kind: "envoyFileAccessLog", path: String(v.path), ...logFormat(v.logFormat, `${at}.logFormat`, errors) };
  },
  prometheus: (name, v, at, errors) => {
    known(v, [], at, errors);
    return { name, kind: "prometheus" };
  },
};

/** One extensionProviders entry of a telemetry kind; undefined when the entry is of another kind. */
export function parseTelemetryProvider(entry: Fields, at: string, errors: string[]): TelemetryProvider | undefined {
  const kind = Object.keys(entry).find((k) => k !== "name") as keyof typeof PARSERS | "envoyOtelAls" | undefined;
  // The proxy has no OpenTelemetry access logger yet: refused here rather than NACKed by every proxy later.
  if (kind === "envoyOtelAls") return void errors.push(`${at}.envoyOtelAls: OpenTelemetry access logs are not supported yet; use envoyFileAccessLog (or Istio's built-in "envoy" provider) and ship the file`);
  if (!kind || !(kind in PARSERS)) return undefined;
  const v = entry[kind] ?? {};
  if (!isObject(v)) {
    errors.push(`${at}.${kind} must be a mapping`);
    return undefined;
  }
  return PARSERS[kind](String(entry.name), v, `${at}.${kind}`, errors);
}

/** MeshConfig defaultProviders: the providers used where no Telemetry names one. */
export function parseDefaultProviders(value: unknown, at: string, errors: string[]): DefaultProviders {
  const out: DefaultProviders = { tracing: [], accessLogging: [], metrics: [] };
  if (!isObject(value)) return errors.push(`${at} must be {tracing, accessLogging, metrics} (lists of provider names)`), out;
  for (const [k, v] of Object.entries(value)) {
    if (k !== "tracing" && k !== "accessLogging" && k !== "metrics") errors.push(`${at}.${k} is not supported (tracing, accessLogging, metrics are)`);
    else if (!Array.isArray(v) || v.some((n) => typeof n !== "string" || !n)) errors.push(`${at}.${k} must be a list of provider names`);
    else out[k] = v as string[];
  }
  return out;
}

/** Names that defaultProviders uses but extensionProviders does not define (Istio's built-in "envoy" aside). */
export function unknownDefaults(defaults: DefaultProviders | undefined, providers: Array<{ name: string }>, at: string): string[] {
  const names = new Set(providers.map((p) => p.name.toLowerCase()));
  const out: string[] = [];
  for (const [k, list] of Object.entries(defaults ?? {})) {
    for (const n of list as string[]) if (!names.has(n.toLowerCase()) && !BUILT_IN.has(n.toLowerCase())) out.push(`${at}.${k}: provider "${n}" is not defined in extensionProviders`);
  }
  return out;
}

/** Istio's built-in providers, there without an extensionProviders entry: envoy (a file log to /dev/stdout), prometheus. */
const BUILT_IN = new Set(["envoy", "prometheus"]);

export function providerNamed(providers: TelemetryProvider[], name: string): TelemetryProvider | undefined {
  const found = providers.find((p) => p.name.toLowerCase() === name.toLowerCase());
  if (found) return found;
  if (name.toLowerCase() === "envoy") return { name: "envoy", kind: "envoyFileAccessLog", path: "/dev/stdout" };
  if (name.toLowerCase() === "prometheus") return { name: "prometheus", kind: "prometheus" };
  return undefined;
}

/** The telemetry entries of `extensionProviders` (other kinds are ext-authz-providers.ts'), names unique across all. */
export function parseTelemetryProviders(value: unknown, at: string, errors: string[]): TelemetryProvider[] {
  if (!Array.isArray(value)) return [];
  const out: TelemetryProvider[] = [];
  const names = new Set<string>();
  value.forEach((entry, i) => {
    if (!isObject(entry) || typeof entry.name !== "string" || !entry.name) return;
    const first = !names.has(entry.name.toLowerCase());
    names.add(entry.name.toLowerCase());
    const p = parseTelemetryProvider(entry, `${at}[${i}]`, errors);
    if (!p) return;
    if (!first) errors.push(`${at}[${i}].name "${entry.name}" is used twice (Istio matches provider names without regard to case)`);
    else out.push(p);
  });
  return out;
}
