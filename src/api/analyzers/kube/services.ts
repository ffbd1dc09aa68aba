// Services and the Deployments they select, after istioctl analyze: a port whose name and appProtocol say no protocol
// Istio knows (IST0118), one Deployment's pods behind two Services that give one port number different protocols
// (IST0116) or one target port different service ports (IST0137). Deployments are checked only when in the mesh
// (their namespace or pod template asks for injection), as Istio does.
import { portProtocol } from "../../port-protocol.js";
import { type KubeObject, isSystemNamespace, labelsOf, list, nameOf, namespaceOf, obj, ofKind, type ObjectReport, strings } from "./objects.js";
import { injectedNamespaces } from "./injection.js";

/** Istio takes an unnamed or unknown port of these as TCP without sniffing. */
const WELL_KNOWN_TCP = new Set([25, 53, 3306, 27017]);

function portNames(svc: KubeObject, report: ObjectReport): void {
  const spec = obj(svc.spec);
  const externalName = spec.type === "ExternalName";
  list(spec.ports).forEach((p, i) => {
    const protocol = String(p.protocol ?? "TCP").toUpperCase();
    if (protocol !== "TCP") return;
    const fields = { name: typeof p.name === "string" ? p.name : undefined, appProtocol: typeof p.appProtocol === "string" ? p.appProtocol : undefined };
    // An ExternalName Service has no IP to tell its TCP ports apart by: only SNI (https, tls) routes them.
    if (externalName && (fields.name === "tcp" || !portProtocol(fields))) {
      return report(svc, "TRL1048", `spec.ports[${i}]`, `port ${String(p.port)} of this ExternalName Service is named "${fields.name ?? ""}"; with no service IP its TCP traffic cannot be told apart, so name it for https or tls (<protocol>[-suffix]) to route it by SNI`);
    }
    if (portProtocol(fields) || WELL_KNOWN_TCP.has(Number(p.port))) return;
    report(svc, "TRL1038", `spec.ports[${i}]`, `port ${String(p.port)} is named "${fields.name ?? ""}", which does not say its protocol, so the protocol is guessed from the first bytes; name it <protocol>[-suffix] (http, http2, https, grpc, grpc-web, tcp, tls, mongo, mysql, redis) or set appProtocol`);
  });
}

const selects = (svc: KubeObject, labels: Record<string, string>) => {
  const sel = strings(obj(svc.spec).selector);
  return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
};

function deploymentPorts(dep: KubeObject, services: KubeObject[], report: ObjectReport): void {
  const labels = strings(obj(obj(obj(dep.spec).template).metadata).labels);
  const fronting = services.filter((s) => namespaceOf(s) === namespaceOf(dep) && selects(s, labels));
  const protocols = new Map<number, Map<string, string[]>>();
  const targets = new Map<string, Map<number, string>>();
  for (const svc of fronting) {
    const id = `${namespaceOf(svc)}/${nameOf(svc)}`;
    for (const p of list(obj(svc.spec).ports)) {
      const port = Number(p.port);
      const proto = String(p.protocol ?? "TCP").toUpperCase();
      const byProto = protocols.get(port) ?? new Map<string, string[]>();
      byProto.set(proto, [...(byProto.get(proto) ?? []), id]);
      protocols.set(port, byProto);
      const target = p.targetPort === undefined || p.targetPort === 0 || p.targetPort === "" ? String(port) : String(p.targetPort);
      const byPort = targets.get(target) ?? new Map<number, string>();
      byPort.set(port, id);
      targets.set(target, byPort);
    }
  }
  for (const [port, byProto] of protocols) {
    if (byProto.size < 2) continue;
    const names = [...byProto.values()].flat().sort();
    report(dep, "TRL1039", "metadata.name", `the pods of ${nameOf(dep)} are behind Services ${names.join(", ")}, which give port ${port} different protocols (${[...byProto.keys()].join(", ")}); the mesh can serve one protocol per port, so use one`);
  }
  for (const [target, byPort] of targets) {
    if (byPort.size < 2) continue;
    report(dep, "TRL1040", "metadata.name", `Services ${[...new Set(byPort.values())].sort().join(", ")} send ports ${[...byPort.keys()].sort((a, b) => a - b).join(", ")} to the same target port ${target} of ${nameOf(dep)}'s pods; the sidecar takes one service port per target port, so give each its own target port`);
  }
}

function inMesh(dep: KubeObject, injected: Set<string>): boolean {
  const template = obj(obj(dep.spec).template);
  if (list(obj(template.spec).containers).some((c) => c.name === "istio-proxy")) return true;
  const tpl = obj(template.metadata);
  const inject = strings(tpl.labels)["sidecar.istio.io/inject"] ?? strings(tpl.annotations)["sidecar.istio.io/inject"];
  if (inject !== undefined) return inject.toLowerCase() === "true";
  return injected.has(namespaceOf(dep));
}

export function analyzeServices(objects: KubeObject[], report: ObjectReport): void {
  const services = ofKind(objects, "Service");
  for (const svc of services) {
    // The control plane's own Services name their ports their own way, as Istio skips istiod's.
    if (isSystemNamespace(namespaceOf(svc)) || labelsOf(svc).app === "istiod") continue;
    portNames(svc, report);
  }
  const injected = injectedNamespaces(objects);
  for (const dep of ofKind(objects, "Deployment")) if (inMesh(dep, injected)) deploymentPorts(dep, services, report);
}
