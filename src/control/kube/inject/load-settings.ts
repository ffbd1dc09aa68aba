// Injection settings from files, for `trellis control --inject-values` and `trellis kube-inject`: Istio's Helm values
// (or the istio-sidecar-injector ConfigMap) and a MeshConfig, over the defaults for the control plane's namespace.
import { readFileSync } from "node:fs";
import { applyInjectValues, applyMeshConfig, defaultSettings, InjectConfigError, type InjectSettings } from "./inject-settings.js";

function read(flag: string, file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new InjectConfigError(`${flag}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

export function loadInjectSettings(o: { namespace: string; values?: { flag: string; file: string }; mesh?: { flag: string; file: string } }): InjectSettings {
  let settings = defaultSettings(o.namespace);
  if (o.values) settings = applyInjectValues(settings, read(o.values.flag, o.values.file), `${o.values.flag} ${o.values.file}`);
  if (o.mesh) settings = applyMeshConfig(settings, read(o.mesh.flag, o.mesh.file), `${o.mesh.flag} ${o.mesh.file}`);
  return settings;
}
