// Kubernetes objects -> what translation consumes, as istiod's Kubernetes registry derives it: one Workload per
// (Service, EndpointSlice address) with the pod's labels, service account and node locality; ports' protocols from
// the port name prefix or appProtocol; ExternalName Services as DNS ServiceEntries; Services without endpoints as
// endpoint-less entries, so their hosts still route (503 no healthy upstream, as in Istio). Pure: no I/O.
import { isIP } from "node:net";
import { portProtocol } from "../../api/port-protocol.js";
import type { IstioResource } from "../../api/resource.js";
import type { ServicePort, Workload } from "../registry/registry.js";
import { localityOf } from "../registry/locality.js";
import { DOMAIN_SUFFIX } from "../translate/services.js";
import { CLUSTER_IP_ANNOTATION } from "../translate/vips.js";
import type { KubeObject } from "./client.js";

export interface KubeServicePort { name?: string; port: number; protocol?: string; appProtocol?: string; targetPort?: number | string }
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

/**
 * Whether peers reach this pod with mutual TLS: it runs the sidecar, and either the injector labelled it
 * `security.istio.io/tlsMode: istio` (Istio's auto-mTLS reads only that label, so every control-plane replica decides
 * alike) or its proxy proved its identity to this replica (pods written without the label).
 */
function mtlsCapable(pod: KubeObject | undefined, podKey: string | undefined, proven: Set<string>): boolean {
  if (!hasSidecar(pod)) return false;
  return pod!.metadata.labels?.["security.istio.io/tlsMode"] === "istio" || (!!podKey && proven.has(podKey));
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
        mtls: mtlsCapable(pod, podKey, view.mtlsPods),
        interception: "NONE",
        locality: podLocality(pod, node),
        ...(clusterIpOf(svc) ? { serviceVip: clusterIpOf(svc) } : {}),
      });
    }
  }
  return out;
}

/** A Service's ClusterIP, or undefined for headless ("None") and unallocated ones. */
export function clusterIpOf(svc: KubeObject): string | undefined {
  const ip = spec<{ clusterIP?: string }>(svc).clusterIP;
  return ip && ip !== "None" && isIP(ip) ? ip : undefined;
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

/**
 * Services that have no endpoint now (no pod matches, or none is scheduled yet), as MESH_INTERNAL STATIC ServiceEntries
 * without endpoints: Istio keeps such a Service's cluster and route, so a request answers 503 "no healthy upstream"
 * (UH) rather than 404 "no route" (NR), and the first endpoint to appear needs no new route.
 */
export function endpointlessEntries(view: Pick<KubeView, "services" | "selected">, workloads: Workload[]): IstioResource[] {
  const served = new Set(workloads.map((w) => `${w.namespace}/${w.service}`));
  const out: IstioResource[] = [];
  for (const s of view.services) {
    const ns = s.metadata.namespace!;
    const { type } = spec<{ type?: string }>(s);
    const ports = servicePorts(s);
    if (type === "ExternalName" || !view.selected(ns) || served.has(`${ns}/${s.metadata.name}`) || ports.length === 0) continue;
    out.push({
      apiVersion: "networking.istio.io/v1", kind: "ServiceEntry",
      metadata: { name: `kube-endpointless-${s.metadata.name}`, namespace: ns, annotations: { "trellis.io/source": `Service ${ns}/${s.metadata.name} (no endpoints)`, ...(clusterIpOf(s) ? { [CLUSTER_IP_ANNOTATION]: clusterIpOf(s)! } : {}) } },
      spec: {
        hosts: [hostnameOf(s.metadata.name, ns)], location: "MESH_INTERNAL", resolution: "STATIC",
        ports: ports.map((p) => ({ number: p.port, name: p.name ?? `port-${p.port}`, ...(p.protocol ? { protocol: p.protocol } : {}) })),
      },
    } as IstioResource);
  }
  return out;
}
