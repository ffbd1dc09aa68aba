// Kubernetes objects -> what translation consumes, as istiod's Kubernetes registry derives it: one Workload per
// (Service, EndpointSlice address) with the pod's labels, service account and node locality; ports' protocols from
// the port name prefix or appProtocol; ExternalName Services as DNS ServiceEntries. Pure: no I/O.
import { portProtocol } from "../../api/port-protocol.js";
import type { IstioResource } from "../../api/resource.js";
import type { ServicePort, Workload } from "../registry/registry.js";
import { localityOf } from "../registry/locality.js";
import { DOMAIN_SUFFIX } from "../translate/services.js";
import type { KubeObject } from "./client.js";

export interface KubeServicePort { name?: string; port: number; protocol?: string; appProtocol?: string; targetPort?: number | string }
export { portProtocol };
interface SlicePort { name?: string; port?: number; protocol?: string }
interface SliceEndpoint { addresses: string[]; conditions?: { ready?: boolean }; targetRef?: { kind?: string; name?: string; namespace?: string }; nodeName?: string; zone?: string }

export interface KubeView {
  services: KubeObject[];
  slices: KubeObject[];
  /** ns/name -> pod */
  pods: Map<string, KubeObject>;
  /** name -> node */
  nodes: Map<string, KubeObject>;
  /** Whether a namespace is in the mesh's view (MeshConfig discoverySelectors). */
  selected(namespace: string): boolean;
  /** ns/name of pods whose connected proxy proved its identity: peers reach them with mutual TLS. */
  mtlsPods: Set<string>;
}

function spec<T>(o: KubeObject): T {
  return (o.spec ?? {}) as T;
}

/** A Service's TCP ports as Trellis service ports (Istio ignores UDP and SCTP ports). */
export function servicePorts(svc: KubeObject): ServicePort[] {
  return (spec<{ ports?: KubeServicePort[] }>(svc).ports ?? []).filter((p) => (p.protocol ?? "TCP") === "TCP").map((p) => ({ port: p.port, name: p.name || undefined, protocol: portProtocol(p) }));
}

export function hostnameOf(name: string, namespace: string): string {
  return `${name}.${namespace}.svc.${DOMAIN_SUFFIX}`;
}

/** Runs Istio's sidecar (injected as the container istio-proxy, or marked by the injector's status annotation). */
export function hasSidecar(pod: KubeObject | undefined): boolean {
  if (!pod) return false;
  const containers = spec<{ containers?: Array<{ name: string }>; initContainers?: Array<{ name: string; restartPolicy?: string }> }>(pod);
  return !!pod.metadata.annotations?.["sidecar.istio.io/status"] || !!containers.containers?.some((c) => c.name === "istio-proxy")
    || !!containers.initContainers?.some((c) => c.name === "istio-proxy" && c.restartPolicy === "Always");
}

/** The node's topology labels with the pod's own labels over them (a pod's istio-locality label wins). */
export function podLocality(pod: KubeObject | undefined, node: KubeObject | undefined): string {
  return localityOf(undefined, { ...(node?.metadata.labels ?? {}), ...(pod?.metadata.labels ?? {}) });
}

function endpointWorkloads(view: KubeView, svc: KubeObject, slice: KubeObject, ports: ServicePort[]): Workload[] {
  const ns = svc.metadata.namespace!;
  const sliceSpec = slice as unknown as { addressType?: string; ports?: SlicePort[] | null; endpoints?: SliceEndpoint[] | null };
  if (sliceSpec.addressType === "FQDN") return [];
  const portTargets: Record<number, number> = {};
  for (const p of ports) {
    const target = (sliceSpec.ports ?? []).find((sp) => (sp.name ?? "") === (p.name ?? "") && (sp.protocol ?? "TCP") === "TCP");
    if (target?.port) portTargets[p.port] = target.port;
  }
  if (Object.keys(portTargets).length === 0) return [];
  const out: Workload[] = [];
  for (const ep of sliceSpec.endpoints ?? []) {
    const podKey = ep.targetRef?.kind === "Pod" && ep.targetRef.name ? `${ep.targetRef.namespace ?? ns}/${ep.targetRef.name}` : undefined;
    const pod = podKey ? view.pods.get(podKey) : undefined;
    const node = view.nodes.get(ep.nodeName ?? spec<{ nodeName?: string }>(pod ?? { metadata: { name: "" } }).nodeName ?? "");
    for (const address of ep.addresses ?? []) {
      out.push({
        id: `kube/${ns}/${svc.metadata.name}/${address}`,
        name: pod?.metadata.name ?? address,
        namespace: ns,
        service: svc.metadata.name,
        labels: { ...(pod?.metadata.labels ?? {}) },
        serviceAccount: spec<{ serviceAccountName?: string }>(pod ?? { metadata: { name: "" } }).serviceAccountName ?? "default",
        address,
        inboundPort: Object.values(portTargets)[0],
        portTargets,
        servicePorts: ports,
        upstreams: [],
        ready: ep.conditions?.ready !== false,
        sidecar: hasSidecar(pod),
        mtls: hasSidecar(pod) && !!podKey && view.mtlsPods.has(podKey),
        interception: "NONE",
        locality: podLocality(pod, node),
      });
    }
  }
  return out;
}

/** Every endpoint of every selected Service, from its EndpointSlices (label kubernetes.io/service-name). */
export function kubeWorkloads(view: KubeView): Workload[] {
  const services = new Map<string, KubeObject>();
  for (const s of view.services) if (view.selected(s.metadata.namespace!)) services.set(`${s.metadata.namespace}/${s.metadata.name}`, s);
  const out: Workload[] = [];
  const seen = new Set<string>();
  for (const slice of view.slices) {
    const svcName = slice.metadata.labels?.["kubernetes.io/service-name"];
    const svc = svcName ? services.get(`${slice.metadata.namespace}/${svcName}`) : undefined;
    if (!svc || spec<{ type?: string }>(svc).type === "ExternalName") continue;
    for (const w of endpointWorkloads(view, svc, slice, servicePorts(svc))) {
      // The same address in two slices (a slice being replaced): once is enough.
      if (seen.has(w.id)) continue;
      seen.add(w.id);
      out.push(w);
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** ExternalName Services as Istio treats them: a DNS-resolved, mesh-external host under the Service's name. */
export function externalNameEntries(view: Pick<KubeView, "services" | "selected">): IstioResource[] {
  const out: IstioResource[] = [];
  for (const s of view.services) {
    const { type, externalName } = spec<{ type?: string; externalName?: string }>(s);
    const ns = s.metadata.namespace!;
    if (type !== "ExternalName" || !externalName || !view.selected(ns)) continue;
    const ports = servicePorts(s);
    out.push({
      apiVersion: "networking.istio.io/v1", kind: "ServiceEntry",
      metadata: { name: `kube-externalname-${s.metadata.name}`, namespace: ns, annotations: { "trellis.io/source": `Service ${ns}/${s.metadata.name} (ExternalName)` } },
      spec: {
        hosts: [hostnameOf(s.metadata.name, ns)], location: "MESH_EXTERNAL", resolution: "DNS",
        ports: ports.map((p) => ({ number: p.port, name: p.name ?? `port-${p.port}`, ...(p.protocol ? { protocol: p.protocol } : {}) })),
        endpoints: [{ address: externalName }],
      },
    } as IstioResource);
  }
  return out;
}
