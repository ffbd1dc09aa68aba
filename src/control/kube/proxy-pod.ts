// Which pod a connecting proxy runs in, and its workload taken from that pod (labels, service account, address,
// Service, readiness, locality), never from what the proxy claims. The node names its pod as Istio's sidecars do
// (node id "sidecar~IP~POD.NS~NS.svc.cluster.local", or metadata NAME/POD_NAME + NAMESPACE, or only INSTANCE_IP);
// a claim that disagrees with the pod (another IP, another identity) is refused.
import type { NodeInfo } from "../../xds/ads-server.js";
import type { Workload } from "../registry/registry.js";
import type { KubeObject } from "./client.js";
import { matchesSelector } from "./label-selector.js";
import { podLocality, servicePorts, type KubeServicePort } from "./kube-workloads.js";

interface PodSpec { serviceAccountName?: string; nodeName?: string; hostNetwork?: boolean; containers?: Array<{ ports?: Array<{ name?: string; containerPort: number }> }> }
interface PodStatus { podIP?: string; phase?: string; conditions?: Array<{ type: string; status: string }> }

export interface PodIndex {
  pods: Map<string, KubeObject>;
  nodes: Map<string, KubeObject>;
  services: KubeObject[];
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

function num(v: unknown): number | undefined {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/** The pod's ns/name the node names, if it names one. */
export function namedPod(node: NodeInfo): string | undefined {
  const parts = node.id.split("~");
  if (parts.length === 4 && parts[2].includes(".")) {
    const dot = parts[2].lastIndexOf(".");
    return `${parts[2].slice(dot + 1)}/${parts[2].slice(0, dot)}`;
  }
  const name = str(node.metadata.POD_NAME) ?? str(node.metadata.NAME);
  const ns = str(node.metadata.POD_NAMESPACE) ?? str(node.metadata.NAMESPACE);
  return name && ns ? `${ns}/${name}` : undefined;
}

function podIp(pod: KubeObject): string | undefined {
  return (pod.status as PodStatus | undefined)?.podIP;
}

function findPod(node: NodeInfo, index: PodIndex): { pod?: KubeObject; error?: string } {
  const claimedIp = str(node.metadata.INSTANCE_IP);
  const named = namedPod(node);
  if (named) {
    const pod = index.pods.get(named);
    if (!pod) return { error: `pod ${named} (named by the proxy) is not known (yet)` };
    if (claimedIp && podIp(pod) && podIp(pod) !== claimedIp) return { error: `INSTANCE_IP ${claimedIp} is not pod ${named}'s IP ${podIp(pod)}` };
    return { pod };
  }
  if (!claimedIp) return { error: "the node names no pod: set the node id as sidecar~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local, or POD_NAME/NAMESPACE or INSTANCE_IP metadata" };
  const matches = [...index.pods.values()].filter((p) => podIp(p) === claimedIp && !(p.spec as PodSpec | undefined)?.hostNetwork && !["Succeeded", "Failed"].includes((p.status as PodStatus | undefined)?.phase ?? ""));
  if (matches.length !== 1) return { error: matches.length ? `INSTANCE_IP ${claimedIp} is the IP of ${matches.length} pods; name the pod (POD_NAME, NAMESPACE)` : `no pod has the IP ${claimedIp} (yet)` };
  return { pod: matches[0] };
}

/** spiffe://TD/ns/NS/sa/SA -> {ns, sa}. */
function spiffe(identity: string): { ns: string; sa: string } | undefined {
  const m = /^spiffe:\/\/[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(identity);
  return m ? { ns: m[1], sa: m[2] } : undefined;
}

/** A Service port's targetPort on this pod: a number, or a container port's name. */
function targetPort(port: KubeServicePort | undefined, pod: KubeObject): number | undefined {
  if (!port) return undefined;
  const t = port.targetPort ?? port.port;
  if (typeof t === "number") return t;
  for (const c of (pod.spec as PodSpec | undefined)?.containers ?? []) for (const p of c.ports ?? []) if (p.name === t) return p.containerPort;
  return num(t);
}

/** The proxy's workload from its pod; `identity` is the SPIFFE ID its stream proved, if the server authenticates. */
export function proxyWorkload(node: NodeInfo, identity: string | undefined, index: PodIndex): { workload?: Workload; error?: string } {
  const { pod, error } = findPod(node, index);
  if (!pod) return { error: `proxy ${node.id}: ${error}` };
  const ns = pod.metadata.namespace!;
  const spec = (pod.spec ?? {}) as PodSpec;
  const sa = spec.serviceAccountName ?? "default";
  const proven = identity ? spiffe(identity) : undefined;
  if (identity && (!proven || proven.ns !== ns || proven.sa !== sa)) return { error: `proxy ${node.id}: its identity ${identity} is not pod ${ns}/${pod.metadata.name}'s service account ${ns}/${sa}` };
  const labels = { ...(pod.metadata.labels ?? {}) };
  const svc = index.services.filter((s) => s.metadata.namespace === ns).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
    .find((s) => { const sel = (s.spec as { selector?: Record<string, string> } | undefined)?.selector; return !!sel && Object.keys(sel).length > 0 && matchesSelector({ matchLabels: sel }, labels); });
  const tcpPorts = ((svc?.spec as { ports?: KubeServicePort[] } | undefined)?.ports ?? []).filter((p) => (p.protocol ?? "TCP") === "TCP");
  const firstPort = tcpPorts[0];
  // Where each Service port lands on this pod (its targetPort): what the inbound side matches on, as Istio's inbound
  // chains match the original destination's target port, and the port a gateway binds.
  const portTargets = Object.fromEntries(tcpPorts.map((p) => [p.port, targetPort(p, pod) ?? p.port]));
  const meta = node.metadata;
  const annotated = pod.metadata.annotations?.["sidecar.istio.io/interceptionMode"];
  const interception = (annotated ?? meta.INTERCEPTION_MODE) === "REDIRECT" ? "REDIRECT" : "NONE";
  const status = (pod.status ?? {}) as PodStatus;
  return {
    workload: {
      id: node.id, name: pod.metadata.name, namespace: ns, service: svc?.metadata.name, labels, serviceAccount: sa,
      address: status.podIP ?? "",
      inboundPort: num(meta.INBOUND_PORT) ?? (interception === "REDIRECT" ? 15006 : 0),
      servicePorts: svc ? servicePorts(svc) : [],
      ...(tcpPorts.length ? { portTargets } : {}),
      appPort: num(meta.APP_PORT) ?? targetPort(firstPort, pod),
      // Where the proxy's own listeners and admin are: configuration of the process, not claims about identity.
      upstreams: Array.isArray(meta.UPSTREAMS) ? (meta.UPSTREAMS as Array<Record<string, unknown>>).map((u) => ({ host: String(u.host ?? ""), port: num(u.port) ?? 0, localPort: num(u.localPort) ?? 0 })) : [],
      adminAddress: str(meta.ADMIN_ADDRESS), statsAddress: str(meta.STATS_ADDRESS),
      ready: status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
      sidecar: true,
      mtls: !!identity,
      interception,
      locality: podLocality(pod, index.nodes.get(spec.nodeName ?? "")),
    },
  };
}
