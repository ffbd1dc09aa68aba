// What injection needs to know beyond the pod: Istio's sidecar-injector `values` (image, revision, resources, native
// sidecars, ...) and the MeshConfig's `defaultConfig` (discovery address, holdApplicationUntilProxyStarts, ...). The
// webhook and `trellis kube-inject` build the same settings, so both inject the same pod.
import { parse as parseYaml } from "yaml";

export interface ProxyDefaults {
  /** Where the sidecar's xDS and CA go (Istio: istiod.<control-plane namespace>.svc:15012). */
  discoveryAddress: string;
  holdApplicationUntilProxyStarts: boolean;
  /** Seconds the sidecar drains on SIGTERM before it exits (Istio: terminationDrainDuration, 5s). */
  terminationDrainSeconds: number;
  /** Extra environment for the sidecar (Istio: proxyMetadata). */
  proxyMetadata: Record<string, string>;
}

export interface InjectSettings {
  /** The sidecar's image (Istio: global.hub/proxyv2:tag). */
  image: string;
  /** "" = the default revision. */
  revision: string;
  controlPlaneNamespace: string;
  trustDomain: string;
  /** Native sidecars (init container with restartPolicy Always) for every pod unless annotated otherwise. */
  nativeSidecar: boolean;
  resources: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } };
  proxy: ProxyDefaults;
}

/** istiod's Service for the revision, on its TLS xDS + CA port. */
export function defaultDiscoveryAddress(namespace: string, revision: string): string {
  return `istiod${revision && revision !== "default" ? `-${revision}` : ""}.${namespace}.svc:15012`;
}

export function defaultSettings(controlPlaneNamespace = "istio-system"): InjectSettings {
  return {
    image: "docker.io/trellis/proxy:dev",
    revision: "",
    controlPlaneNamespace,
    trustDomain: "cluster.local",
    nativeSidecar: false,
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2000m", memory: "1024Mi" } },
    proxy: { discoveryAddress: defaultDiscoveryAddress(controlPlaneNamespace, ""), holdApplicationUntilProxyStarts: false, terminationDrainSeconds: 5, proxyMetadata: {} },
  };
}

export class InjectConfigError extends Error {
  readonly code = "TRELLIS_INJECT_CONFIG";
}

type Doc = Record<string, unknown>;
const isObject = (v: unknown): v is Doc => typeof v === "object" && v !== null && !Array.isArray(v);

function yamlDoc(text: string, source: string): Doc {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new InjectConfigError(`${source}: not YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObject(doc)) throw new InjectConfigError(`${source}: must be a mapping`);
  return doc;
}

const DURATION = /^(\d+(?:\.\d+)?)s$/;
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

/**
 * Applies a ProxyConfig (MeshConfig defaultConfig, or a pod's proxy.istio.io/config) over `base`. Fields the sidecar
 * does not act on are refused by name, so nobody believes a setting took effect when it did not.
 */
export function applyProxyConfig(base: ProxyDefaults, doc: unknown, source: string): ProxyDefaults {
  if (doc === undefined || doc === null) return base;
  if (!isObject(doc)) throw new InjectConfigError(`${source} must be a mapping of ProxyConfig fields`);
  const out: ProxyDefaults = { ...base, proxyMetadata: { ...base.proxyMetadata } };
  for (const [key, value] of Object.entries(doc)) {
    const where = `${source}.${key}`;
    switch (key) {
      case "discoveryAddress":
        if (typeof value !== "string" || !HOST_PORT.test(value)) throw new InjectConfigError(`${where} "${String(value)}" must be HOST:PORT (e.g. istiod.istio-system.svc:15012)`);
        out.discoveryAddress = value;
        break;
      case "holdApplicationUntilProxyStarts":
        if (typeof value !== "boolean") throw new InjectConfigError(`${where} must be true or false`);
        out.holdApplicationUntilProxyStarts = value;
        break;
      case "terminationDrainDuration": {
        const m = typeof value === "string" ? DURATION.exec(value) : null;
        if (!m) throw new InjectConfigError(`${where} "${String(value)}" must be a duration in seconds such as "5s"`);
        out.terminationDrainSeconds = Number(m[1]);
        break;
      }
      case "proxyMetadata":
        if (!isObject(value) || Object.values(value).some((v) => typeof v !== "string")) throw new InjectConfigError(`${where} must map names to string values`);
        Object.assign(out.proxyMetadata, value);
        break;
      default:
        throw new InjectConfigError(`${where} is not a ProxyConfig field the Trellis sidecar honours; it honours discoveryAddress, holdApplicationUntilProxyStarts, terminationDrainDuration and proxyMetadata`);
    }
  }
  return out;
}

/**
 * A MeshConfig file (bare, or Istio's ConfigMap form {mesh: "..."}): trustDomain and defaultConfig shape injection.
 * Its other fields are the control plane's (trellis control --mesh-config) and not read here.
 */
export function applyMeshConfig(settings: InjectSettings, text: string, source: string): InjectSettings {
  const doc = yamlDoc(text, source);
  return applyMeshDoc(settings, typeof doc.mesh === "string" ? yamlDoc(doc.mesh, `${source}: mesh`) : doc, source);
}

function applyMeshDoc(settings: InjectSettings, doc: Doc, source: string): InjectSettings {
  const out = { ...settings };
  if (doc.trustDomain !== undefined) {
    if (typeof doc.trustDomain !== "string" || !doc.trustDomain) throw new InjectConfigError(`${source}: trustDomain must be a non-empty string`);
    out.trustDomain = doc.trustDomain;
  }
  out.proxy = applyProxyConfig(settings.proxy, doc.defaultConfig, `${source}: defaultConfig`);
  return out;
}

const VALUE_FIELDS = "meshConfig.defaultConfig, meshConfig.trustDomain, global.proxy.image, global.proxy.resources, global.istioNamespace, revision, values.pilot.env.ENABLE_NATIVE_SIDECARS (or sidecarInjectorWebhook.nativeSidecar)";

/**
 * An injection config (the istio-sidecar-injector ConfigMap's `values`, or that ConfigMap itself with data.values).
 * Known settings are applied; a setting under a key we read but with a wrong type is refused by name.
 */
export function applyInjectValues(settings: InjectSettings, text: string, source: string): InjectSettings {
  let doc = yamlDoc(text, source);
  const data = isObject(doc.data) ? doc.data : undefined;
  if (data && typeof data.values === "string") doc = yamlDoc(data.values, `${source}: data.values`);
  else if ((data && data.config !== undefined) || doc.template !== undefined || doc.templates !== undefined) {
    throw new InjectConfigError(`${source}: injection templates are not read: Trellis' sidecar template is built in; pass Istio's values (global.proxy..., meshConfig, revision) or the istio-sidecar-injector ConfigMap's data.values`);
  }
  const out: InjectSettings = { ...settings, resources: { requests: { ...settings.resources.requests }, limits: { ...settings.resources.limits } } };
  const global = isObject(doc.global) ? doc.global : {};
  const proxy = isObject(global.proxy) ? global.proxy : {};
  const str = (v: unknown, where: string): string => {
    if (typeof v !== "string" || !v) throw new InjectConfigError(`${source}: ${where} must be a non-empty string (the fields read: ${VALUE_FIELDS})`);
    return v;
  };
  if (proxy.image !== undefined) {
    const image = str(proxy.image, "global.proxy.image");
    out.image = image.includes("/") || !global.hub ? image : `${str(global.hub, "global.hub")}/${image}:${global.tag === undefined ? "latest" : String(global.tag)}`;
  }
  if (global.istioNamespace !== undefined) out.controlPlaneNamespace = str(global.istioNamespace, "global.istioNamespace");
  if (doc.revision !== undefined) out.revision = typeof doc.revision === "string" ? doc.revision : str(doc.revision, "revision");
  if (isObject(proxy.resources)) {
    for (const kind of ["requests", "limits"] as const) {
      const r = proxy.resources[kind];
      if (r === undefined) continue;
      if (!isObject(r)) throw new InjectConfigError(`${source}: global.proxy.resources.${kind} must be a mapping of cpu and memory`);
      for (const [k, v] of Object.entries(r)) {
        if (k !== "cpu" && k !== "memory") throw new InjectConfigError(`${source}: global.proxy.resources.${kind}.${k} is not set on the sidecar; use cpu or memory`);
        out.resources[kind][k] = str(String(v), `global.proxy.resources.${kind}.${k}`);
      }
    }
  }
  // The discovery address follows the namespace and revision unless a mesh config set it.
  if (settings.proxy.discoveryAddress === defaultDiscoveryAddress(settings.controlPlaneNamespace, settings.revision)) {
    out.proxy = { ...settings.proxy, discoveryAddress: defaultDiscoveryAddress(out.controlPlaneNamespace, out.revision) };
  }
  // Helm values carry the MeshConfig under meshConfig, as istiod's chart does.
  if (doc.meshConfig !== undefined) {
    if (!isObject(doc.meshConfig)) throw new InjectConfigError(`${source}: meshConfig must be a mapping (MeshConfig fields)`);
    Object.assign(out, applyMeshDoc(out, doc.meshConfig, `${source}: meshConfig`));
  }
  const hook = isObject(doc.sidecarInjectorWebhook) ? doc.sidecarInjectorWebhook : {};
  const env = isObject(doc.pilot) && isObject(doc.pilot.env) ? doc.pilot.env : {};
  const native = hook.nativeSidecar ?? env.ENABLE_NATIVE_SIDECARS;
  if (native !== undefined) {
    if (native !== true && native !== false && native !== "true" && native !== "false") throw new InjectConfigError(`${source}: nativeSidecar must be true or false`);
    out.nativeSidecar = native === true || native === "true";
  }
  return out;
}
