// Istio's MeshConfig (the `mesh` document of istio's ConfigMap), the subset Trellis honours: access logs, tracing and
// the root namespace. Unknown or unsupported fields are refused by name, so a setting is never silently ignored.
import { PATH_NORMALIZATION_MODES, type PathNormalizationMode } from "./translate/path-normalization.js";
import { type LabelSelector, selectorProblems } from "./kube/label-selector.js";
import { parse as parseYaml } from "yaml";
import { parseGoDuration } from "../api/formats.js";
import { type ExtAuthzHttpProvider, parseExtensionProviders } from "./ext-authz-providers.js";
import { type DefaultProviders, parseDefaultProviders, parseTelemetryProviders, type TelemetryProvider, unknownDefaults } from "./telemetry-providers.js";
import { localityLbProblems } from "../api/analyzers/locality-lb.js";
import type { LocalityLbSetting } from "./translate/locality-lb.js";

export interface MeshConfig {
  /** Where every sidecar writes an access log line per request ("" = none, "/dev/stdout", or an absolute path). */
  accessLogFile: string;
  accessLogEncoding: "TEXT" | "JSON";
  enableTracing: boolean;
  /** defaultConfig.tracing.sampling, a percentage; undefined = the control plane's flag or default. */
  tracingSampling?: number;
  rootNamespace?: string;
  /** HTTP authorization services that CUSTOM AuthorizationPolicies name (envoyExtAuthzHttp). */
  extensionProviders?: ExtAuthzHttpProvider[];
  /** Telemetry backends (zipkin, opentelemetry, envoyFileAccessLog, prometheus) that Telemetry resources name. */
  telemetryProviders?: TelemetryProvider[];
  /** defaultProviders: the providers used where no Telemetry resource names one. */
  defaultProviders?: DefaultProviders;
  /** outboundTrafficPolicy.mode: where transparent sidecars send traffic to hosts the registry does not know. */
  outboundTrafficPolicy?: "ALLOW_ANY" | "REGISTRY_ONLY";
  /** dnsRefreshRate in ms: how often DNS ServiceEntry hosts are re-resolved when their records carry no TTL. */
  dnsRefreshRateMs?: number;
  /** localityLbSetting: locality load balancing for every service a DestinationRule does not set it for. */
  localityLbSetting?: LocalityLbSetting;
  /** pathNormalization.normalization (see translate/path-normalization.ts); undefined = our default. */
  pathNormalization?: PathNormalizationMode;
  /** discoverySelectors: on Kubernetes, only namespaces matching one of these are seen (none = every namespace). */
  discoverySelectors?: LabelSelector[];
}

export const DEFAULT_MESH_CONFIG: MeshConfig = { accessLogFile: "", accessLogEncoding: "TEXT", enableTracing: true };

const SUPPORTED = "accessLogFile, accessLogEncoding, enableTracing, defaultConfig.tracing.sampling, rootNamespace, extensionProviders (envoyExtAuthzHttp, zipkin, opentelemetry, envoyFileAccessLog, prometheus), defaultProviders, outboundTrafficPolicy.mode, dnsRefreshRate, localityLbSetting, discoverySelectors, pathNormalization.normalization";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses and checks a MeshConfig document; errors name the field and say what would be accepted. */
export function parseMeshConfig(text: string, source = "mesh config"): { ok: true; value: MeshConfig } | { ok: false; errors: string[] } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, errors: [`${source}: not YAML: ${(err as Error).message}`] };
  }
  if (doc === null || doc === undefined) return { ok: true, value: { ...DEFAULT_MESH_CONFIG } };
  // Istio's ConfigMap form ({mesh: "...yaml..."}) is accepted as well as the bare document.
  if (isObject(doc) && typeof doc.mesh === "string" && Object.keys(doc).length === 1) return parseMeshConfig(doc.mesh, `${source}: mesh`);
  if (!isObject(doc)) return { ok: false, errors: [`${source}: must be a mapping of MeshConfig fields (${SUPPORTED})`] };
  const errors: string[] = [];
  const out: MeshConfig = { ...DEFAULT_MESH_CONFIG };
  for (const [key, value] of Object.entries(doc)) {
    const where = `${source}: ${key}`;
    switch (key) {
      case "accessLogFile":
        if (typeof value !== "string") errors.push(`${where} must be a string: "" (off), /dev/stdout or an absolute file path`);
        else if (value !== "" && !value.startsWith("/")) errors.push(`${where} "${value}" must be /dev/stdout or an absolute path (sidecars run in other directories)`);
        else out.accessLogFile = value;
        break;
      case "accessLogEncoding":
        if (value !== "TEXT" && value !== "JSON") errors.push(`${where} must be TEXT or JSON, not ${JSON.stringify(value)}`);
        else out.accessLogEncoding = value;
        break;
      case "accessLogFormat":
        errors.push(`${where}: custom access log formats are not supported yet; remove it to get Envoy's default format (TEXT) or Trellis' JSON fields (accessLogEncoding: JSON)`);
        break;
      case "enableTracing":
        if (typeof value !== "boolean") errors.push(`${where} must be true or false`);
        else out.enableTracing = value;
        break;
      case "discoverySelectors": {
        const problems = Array.isArray(value) ? value.flatMap((sel, i) => selectorProblems(sel, `${where}[${i}]`)) : [`${where} must be a list of LabelSelectors`];
        if (problems.length) errors.push(...problems);
        else out.discoverySelectors = value as LabelSelector[];
        break;
      }
      case "rootNamespace":
        if (typeof value !== "string" || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value)) errors.push(`${where} must be a namespace name (e.g. istio-system)`);
        else out.rootNamespace = value;
        break;
      case "pathNormalization": {
        const mode = isObject(value) ? value.normalization : undefined;
        const extra = isObject(value) ? Object.keys(value).filter((k) => k !== "normalization") : [];
        if (!isObject(value) || !PATH_NORMALIZATION_MODES.includes(mode as PathNormalizationMode) || extra.length) errors.push(`${where} must be {normalization: ${PATH_NORMALIZATION_MODES.join(" | ")}}${extra.length ? ` (${extra.join(", ")} is not supported)` : ""}`);
        else out.pathNormalization = mode as PathNormalizationMode;
        break;
      }
      case "outboundTrafficPolicy": {
        const mode = isObject(value) ? value.mode : undefined;
        const extra = isObject(value) ? Object.keys(value).filter((k) => k !== "mode") : [];
        if (!isObject(value) || (mode !== "ALLOW_ANY" && mode !== "REGISTRY_ONLY") || extra.length) errors.push(`${where} must be {mode: ALLOW_ANY} or {mode: REGISTRY_ONLY}${extra.length ? ` (${extra.join(", ")} is not supported)` : ""}`);
        else out.outboundTrafficPolicy = mode;
        break;
      }
      case "dnsRefreshRate": {
        const ms = typeof value === "string" ? parseGoDuration(value) : undefined;
        // Istio requires at least 1ms; a zero refresh would spin.
        if (ms === undefined || ms < 1) errors.push(`${where} must be a positive duration such as "60s" or "5s", not ${JSON.stringify(value)}`);
        else out.dnsRefreshRateMs = ms;
        break;
      }
      case "localityLbSetting": {
        const problems: Array<{ message: string }> = isObject(value) ? localityLbProblems(value, where) : [{ message: `${where} must be a mapping (enabled, distribute, failover, failoverPriority)` }];
        const unknown = isObject(value) ? Object.keys(value).filter((k) => !["enabled", "distribute", "failover", "failoverPriority"].includes(k)) : [];
        if (isObject(value) && value.enabled !== undefined && typeof value.enabled !== "boolean") problems.push({ message: `${where}.enabled must be true or false` });
        for (const k of unknown) problems.push({ message: `${where}.${k} is not a localityLbSetting field (enabled, distribute, failover, failoverPriority are)` });
        if (problems.length) errors.push(...problems.map((p) => p.message));
        else out.localityLbSetting = value as LocalityLbSetting;
        break;
      }
      case "extensionProviders":
        out.extensionProviders = parseExtensionProviders(value, where, errors);
        out.telemetryProviders = parseTelemetryProviders(value, where, errors);
        break;
      case "defaultProviders":
        out.defaultProviders = parseDefaultProviders(value, where, errors);
        break;
      case "defaultConfig": {
        if (!isObject(value)) { errors.push(`${where} must be a mapping`); break; }
        for (const [k, v] of Object.entries(value)) {
          if (k !== "tracing") { errors.push(`${where}.${k} is not supported (defaultConfig.tracing.sampling is)`); continue; }
          if (!isObject(v)) { errors.push(`${where}.tracing must be a mapping`); continue; }
          for (const [tk, tv] of Object.entries(v)) {
            if (tk !== "sampling") errors.push(`${where}.tracing.${tk} is not supported (sampling is; the collector is --otlp-collector)`);
            else if (typeof tv !== "number" || !(tv >= 0 && tv <= 100)) errors.push(`${where}.tracing.sampling must be a percentage from 0 to 100`);
            else out.tracingSampling = tv;
          }
        }
        break;
      }
      default:
        errors.push(`${where} is not supported; Trellis reads ${SUPPORTED}`);
    }
  }
  errors.push(...unknownDefaults(out.defaultProviders, out.telemetryProviders ?? [], `${source}: defaultProviders`));
  return errors.length ? { ok: false, errors } : { ok: true, value: out };
}

/** The access log sidecars write under this mesh config, or undefined for none. */
export function accessLogOf(mesh: MeshConfig | undefined): { path: string; json: boolean } | undefined {
  if (!mesh?.accessLogFile) return undefined;
  return { path: mesh.accessLogFile, json: mesh.accessLogEncoding === "JSON" };
}
