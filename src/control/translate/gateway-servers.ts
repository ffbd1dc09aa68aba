// Istio Gateway servers for one gateway proxy: the Gateways whose selector matches its labels, their servers grouped
// by port as Istio merges them (one listener per port, servers of several Gateways side by side), and what cannot be
// served said by name: a port the gateway does not expose, protocols that cannot share a port, a server whose TLS
// settings are incomplete.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";

export interface ServerTls {
  httpsRedirect?: boolean;
  mode?: string;
  credentialName?: string;
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  subjectAltNames?: string[];
  minProtocolVersion?: string;
  maxProtocolVersion?: string;
  cipherSuites?: string[];
}

export interface GatewayServer {
  port: { number: number; name?: string; protocol?: string; targetPort?: number };
  hosts?: string[];
  tls?: ServerTls;
  name?: string;
  bind?: string;
}

export interface GatewaySpec {
  selector?: Record<string, string>;
  servers?: GatewayServer[];
  /** Set on Gateways converted from the Gateway API: only a gateway proxy in the Gateway's own namespace serves them. */
  namespaceScoped?: boolean;
}

/** A server with the Gateway it belongs to. */
export interface BoundServer {
  gateway: IstioResource<GatewaySpec>;
  /** "namespace/name" of its Gateway, as VirtualServices name it. */
  gatewayKey: string;
  server: GatewayServer;
  index: number;
  /** How the port carries it: plaintext HTTP, TLS (terminated or passed through, chosen by SNI), or TCP. */
  kind: "http" | "tls" | "tcp";
}

/** Something the gateway cannot serve, and why: logged by the control plane and shown on /debug/gateways. */
export interface GatewayProblem {
  gateway: string;
  server?: string;
  port?: number;
  message: string;
}

/** Istio's gateways announce themselves with a node type of "router" (node id router~IP~POD.NS~NS.svc.cluster.local). */
export function isGatewayProxy(w: Workload): boolean {
  return w.id.startsWith("router~");
}

/** Istio's Gateway kind (the Gateway API has a kind of the same name in another group). */
export function isIstioGateway(r: { kind: string; apiVersion: string }): boolean {
  return r.kind === "Gateway" && r.apiVersion.startsWith("networking.istio.io/");
}

export function serverLabel(s: BoundServer): string {
  return s.server.name ?? `servers[${s.index}]`;
}

export function protocolKind(protocol: string | undefined): "http" | "tls" | "tcp" {
  const p = (protocol ?? "").toUpperCase();
  if (["HTTP", "HTTP2", "GRPC", "GRPC-WEB"].includes(p)) return "http";
  if (["HTTPS", "TLS"].includes(p)) return "tls";
  return "tcp";
}

/** The Gateways whose selector matches the proxy's labels (any namespace, Istio's default scope), oldest first. */
export function gatewaysFor(resources: IstioResource[], proxy: Workload): Array<IstioResource<GatewaySpec>> {
  return (resources.filter(isIstioGateway) as unknown as Array<IstioResource<GatewaySpec>>)
    .filter((g) => Object.entries(g.spec.selector ?? {}).every(([k, v]) => proxy.labels[k] === v) && (!g.spec.namespaceScoped || g.metadata.namespace === proxy.namespace))
    .sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") || gatewayKey(a).localeCompare(gatewayKey(b)));
}

export function gatewayKey(g: { metadata: { name: string; namespace?: string } }): string {
  return `${g.metadata.namespace ?? "default"}/${g.metadata.name}`;
}

/** TLS versions the proxy's TLS stack serves: Node's default floor is TLS 1.2 and it speaks 1.3. */
const TLS_VERSIONS = new Set(["TLS_AUTO", "TLSV1_2", "TLSV1_3"]);

/** Why a server's TLS settings cannot be served, or undefined when they can. */
function tlsProblem(s: GatewayServer, kind: BoundServer["kind"]): string | undefined {
  const tls = s.tls;
  const protocol = (s.port.protocol ?? "").toUpperCase();
  if (kind !== "tls") {
    if (tls?.mode && protocol !== "HTTP") return `tls.mode ${tls.mode} needs protocol HTTPS or TLS (the port says ${protocol || "nothing"})`;
    return undefined;
  }
  if (!tls?.mode) return `protocol ${protocol} needs tls.mode (SIMPLE, MUTUAL, PASSTHROUGH, ISTIO_MUTUAL or AUTO_PASSTHROUGH)`;
  if (!["SIMPLE", "MUTUAL", "PASSTHROUGH", "ISTIO_MUTUAL"].includes(tls.mode)) return `tls.mode ${tls.mode} is not supported (SIMPLE, MUTUAL, PASSTHROUGH, ISTIO_MUTUAL are)`;
  if (tls.cipherSuites?.length) return "tls.cipherSuites is not supported by the Trellis proxy (Node's default suites are used); remove it";
  for (const v of [tls.minProtocolVersion, tls.maxProtocolVersion]) if (v && !TLS_VERSIONS.has(v)) return `tls protocol version ${v} is not served (TLS_AUTO, TLSV1_2 and TLSV1_3 are)`;
  if ((tls.mode === "SIMPLE" || tls.mode === "MUTUAL") && !tls.credentialName && !(tls.serverCertificate && tls.privateKey)) {
    return `tls.mode ${tls.mode} needs tls.credentialName (a secret: trellis secret create tls NAME --cert FILE --key FILE) or serverCertificate and privateKey`;
  }
  if (tls.mode === "MUTUAL" && !tls.credentialName && !tls.caCertificates) return "tls.mode MUTUAL needs client CA certificates: tls.caCertificates, or a credentialName secret created with --cacert";
  return undefined;
}

export interface PortServers {
  /** The Gateway's server port (a service port of the gateway). */
  port: number;
  /** Where the gateway binds it on its host. */
  bindPort: number;
  kind: BoundServer["kind"];
  servers: BoundServer[];
}

/**
 * The servers the proxy serves, by port. The first Gateway (oldest) to claim a port decides its protocol kind; a
 * server of another kind on that port cannot share the listener (plaintext and TLS, say) and is reported, never
 * silently preferred.
 */
export function serversByPort(resources: IstioResource[], proxy: Workload, problems: GatewayProblem[]): PortServers[] {
  const ports = new Map<number, PortServers>();
  const exposed = new Set(proxy.servicePorts.map((p) => p.port));
  for (const gateway of gatewaysFor(resources, proxy)) {
    (gateway.spec.servers ?? []).forEach((server, index) => {
      const kind = protocolKind(server.port?.protocol);
      const bound: BoundServer = { gateway, gatewayKey: gatewayKey(gateway), server, index, kind };
      const report = (message: string) => problems.push({ gateway: bound.gatewayKey, server: serverLabel(bound), port: server.port?.number, message });
      const number = server.port?.number;
      if (!number) return report("port.number is required");
      if (exposed.size && !exposed.has(number)) return report(`port ${number} is not a port of this gateway (it serves ${[...exposed].sort((a, b) => a - b).join(", ")}; start it with --port ${number})`);
      const problem = tlsProblem(server, kind);
      if (problem) return report(problem);
      let group = ports.get(number);
      if (!group) {
        group = { port: number, bindPort: proxy.portTargets?.[number] ?? number, kind, servers: [] };
        ports.set(number, group);
      }
      if (group.kind !== kind) {
        const first = group.servers[0];
        return report(`port ${number} is already served as ${group.kind.toUpperCase()} by ${first.gatewayKey} ${serverLabel(first)}; a ${kind.toUpperCase()} server cannot share it`);
      }
      group.servers.push(bound);
    });
  }
  return [...ports.values()].filter((p) => p.servers.length > 0).sort((a, b) => a.port - b.port);
}
