// A Listener: a bound socket, its filter chains compiled (match on destination port and address, transport, source),
// and the network filter each chain ends in (HTTP connection manager or TCP proxy).
import { createHash } from "node:crypto";
import { BlockList, createServer, isIPv6, type Server, type Socket } from "node:net";
import type { Listener__Output } from "../../xds/generated/envoy/config/listener/v3/Listener.js";
import type { FilterChain__Output } from "../../xds/generated/envoy/config/listener/v3/FilterChain.js";
import type { CidrRange__Output } from "../../xds/generated/envoy/config/core/v3/CidrRange.js";
import { originalDestination } from "../../native/original-dst.js";
import { HttpConnectionManager, type HcmDeps } from "../http/connection-manager.js";
import type { ConnectionInfo } from "../http/stream-context.js";
import "./builtin-network-filters.js";
import { type ConnectionCheck, networkFilterFactory, registeredNetworkFilters, type TerminalFilter } from "./network-filters.js";
import { clientHelloLength, parseClientHello, serverNameScore } from "./client-hello.js";

/**
 * A ClientHello larger than this is judged on what arrived. A connection that sends nothing to peek at in time is
 * closed, as Envoy's listener_filters_timeout (15 s) does.
 */
const MAX_HELLO_BYTES = 16 * 1024 + 5;
const HELLO_TIMEOUT_MS = 15_000;
import type { UpstreamCluster } from "../upstream/cluster.js";
import type { DownstreamTlsContext__Output } from "../../xds/generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.js";
import { compileTlsContext, peerPrincipal, type SecretLookup, type TlsMaterial } from "../tls/tls-context.js";
import { handshakeReason, logHandshakeFailure, presented } from "../tls/handshake-log.js";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { typedConfig } from "../config/typed-config.js";

/** A secure context per chain and material, so rotated certificates apply to new connections only. */
const contexts = new WeakMap<Chain, { key: string; context: SecureContext }>();

function contextFor(chain: Chain, m: TlsMaterial): SecureContext {
  const key = `${m.cert}|${m.key}|${m.ca}`;
  const cached = contexts.get(chain);
  if (cached && cached.key === key) return cached.context;
  // A server that asks for client certificates must name its session context, or OpenSSL fails every resumed
  // handshake with internal_error (tls.Server sets one itself; a bare TLSSocket's context does not). Tied to the
  // material, so a session resumes only under the certificates and trust that verified it.
  const sessionIdContext = createHash("sha256").update(key).digest("hex").slice(0, 32);
  const context = createSecureContext({ cert: m.cert, key: m.key, ca: m.ca, sessionIdContext });
  contexts.set(chain, { key, context });
  return context;
}

/** Terminates TLS on a connection whose first bytes were peeked, then hands the clear stream to the chain's filter. */
function terminateTls(socket: Socket, bytes: Buffer | undefined, chain: Chain, conn: ConnectionInfo): void {
  let m: TlsMaterial;
  try {
    m = chain.tls!.material();
  } catch {
    return void socket.destroy();
  }
  if (!m.cert || !m.key) return void socket.destroy();
  const require = chain.tls!.requireClient;
  // With rejectUnauthorized, OpenSSL itself fails the handshake of a client whose certificate the CA did not sign.
  // The peeked ClientHello goes back into the socket's buffer, which the TLS layer reads before its native handle
  // takes over: TLS then runs on the handle, not through a JS duplex.
  if (bytes) socket.unshift(bytes);
  const tls = new TLSSocket(socket, {
    isServer: true, secureContext: contextFor(chain, m), requestCert: require || !!m.ca, rejectUnauthorized: require,
    ALPNProtocols: m.alpn.length ? m.alpn : ["h2", "http/1.1"],
  });
  // Each refused or failed handshake is logged (handshake-log.ts limits it to a line a second per chain).
  const fail = (refused: boolean, reason: string, certificate?: string) =>
    logHandshakeFailure(chain, { where: chainLabel(chain), direction: "from", peer: hostPort(conn.remoteAddress, conn.remotePort), refused, reason, certificate });
  tls.once("secure", () => {
    const peer = tls.getPeerCertificate();
    const hasPeer = peer && Object.keys(peer).length > 0;
    const verifyError = (tls as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle?.verifyError?.();
    const verified = hasPeer && !verifyError;
    const bad = verified ? m.verifySan?.(peer) : require ? (verifyError ?? new Error("no client certificate")) : undefined;
    if (bad) {
      fail(true, handshakeReason(bad), hasPeer ? presented(peer) : undefined);
      return void tls.destroy();
    }
    const info: ConnectionInfo = { ...conn, tls: true, peerPrincipal: verified ? peerPrincipal(peer) : undefined, requestedServerName: (tls as unknown as { servername?: string }).servername || undefined, alpn: tls.alpnProtocol || undefined };
    if (!chain.rbac.every((r) => r.allows(info))) return void tls.destroy();
    const filter = chain.filter;
    if (filter instanceof HttpConnectionManager) filter.handleConnection(tls as unknown as Socket, info, undefined, tls.alpnProtocol || "http/1.1");
    else filter.handleConnection(tls as unknown as Socket, info);
  });
  // A client that half-closes mid-handshake (a truncated ClientHello) sends no more: OpenSSL would wait for ever.
  tls.once("end", () => {
    if (!(tls as unknown as { _secureEstablished?: boolean })._secureEstablished) tls.destroy();
  });
  tls.on("error", (err: Error & { code?: string }) => {
    // Before the handshake completes: OpenSSL refusing a client that sent no certificate although one is required,
    // or the handshake failing otherwise (the client rejecting ours, a protocol or ALPN mismatch, a reset).
    if (!(tls as unknown as { _secureEstablished?: boolean })._secureEstablished) fail(err.code === "ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE", handshakeReason(err));
    tls.destroy();
  });
}

/** How a log line names a chain: its listener, and the chain's own name when it has one. */
function chainLabel(chain: Chain): string {
  return `listener ${chain.listener}${chain.name ? ` filter chain ${chain.name}` : ""}`;
}

function hostPort(address: string, port: number): string {
  return address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
}

type NetworkFilter = TerminalFilter;

interface Chain {
  name: string;
  /** The listener the chain belongs to, for log lines. */
  listener: string;
  /**
   * How specifically this chain matches a connection, as Envoy ranks chains (destination port, then server name,
   * then transport and application protocols): a comparable tuple, or undefined when it does not match.
   */
  score(c: ConnectionFacts): number[] | undefined;
  /** Needs the ClientHello's server name or ALPN. */
  readsHello: boolean;
  /** Matches on transport_protocol (TLS or raw bytes), so the first bytes must be seen. */
  readsTransport: boolean;
  filter: NetworkFilter;
  /** envoy.filters.network.rbac filters ahead of the terminal filter, in order; each must allow the connection. */
  rbac: ConnectionCheck[];
  /** Downstream TLS terminated by this chain (mutual when client certificates are required). */
  tls?: { material: () => TlsMaterial; requireClient: boolean };
}

interface ConnectionFacts {
  dstPort: number;
  dstIp: string;
  srcIp: string;
  transport: string;
  serverName?: string;
  alpn: string[];
}

/** Lexicographic: the first criterion that differs decides. */
function outranks(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return false;
}

/** The most specific matching chain (the first of equals, in config order). */
function selectChain(chains: Chain[], facts: ConnectionFacts): Chain | undefined {
  let best: Chain | undefined;
  let bestScore: number[] | undefined;
  for (const c of chains) {
    const score = c.score(facts);
    if (!score) continue;
    if (!bestScore || outranks(score, bestScore)) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

function cidrList(ranges: CidrRange__Output[]): ((ip: string) => boolean) | undefined {
  if (ranges.length === 0) return undefined;
  const list = new BlockList();
  for (const r of ranges) {
    const v6 = isIPv6(r.address_prefix);
    list.addSubnet(r.address_prefix, r.prefix_len?.value ?? (v6 ? 128 : 32), v6 ? "ipv6" : "ipv4");
  }
  return (ip) => {
    const a = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
    try {
      return list.check(a, isIPv6(a) ? "ipv6" : "ipv4");
    } catch {
      return false;
    }
  };
}

export interface ListenerDeps extends HcmDeps {
  cluster(name: string): UpstreamCluster | undefined;
  secrets: SecretLookup;
}

/** The chain's network filters through the registry: connection checks first, then exactly one terminal filter. */
function compileFilters(chain: FilterChain__Output, deps: ListenerDeps, where: string, direction: "INBOUND" | "OUTBOUND" | "UNSPECIFIED"): { rbac: ConnectionCheck[]; filter: NetworkFilter } {
  const last = chain.filters.length - 1;
  const rbac: ConnectionCheck[] = [];
  let filter: NetworkFilter | undefined;
  chain.filters.forEach((f, i) => {
    const fw = `${where}.filters[${i}]`;
    if (!f.typed_config) throw new Error(`${fw}.typed_config is required`);
    const factory = networkFilterFactory(f.typed_config.type_url);
    const ctx = { deps, where: `${fw}.typed_config`, direction };
    if (i < last) {
      if (factory?.kind !== "check") throw new Error(`${fw}: network filter ${f.name} is not supported before the terminal filter (${registeredNetworkFilters("check").join(", ")} is)`);
      rbac.push(factory.build(f.typed_config, ctx));
    } else {
      if (factory?.kind !== "terminal") throw new Error(`${fw}: network filter ${f.name} (${f.typed_config.type_url}) is not supported (${registeredNetworkFilters("terminal").map((n) => n.replace("envoy.filters.network.", "")).join(", ")} are)`);
      filter = factory.build(f.typed_config, ctx);
    }
  });
  return { rbac, filter: filter! };
}

function compileChain(chain: FilterChain__Output, deps: ListenerDeps, where: string, direction: "INBOUND" | "OUTBOUND" | "UNSPECIFIED", listener: string): Chain {
  let tls: Chain["tls"];
  if (chain.transport_socket) {
    const type = chain.transport_socket.typed_config?.type_url ?? chain.transport_socket.name;
    if (type.endsWith("tls.v3.DownstreamTlsContext")) {
      const ctx = typedConfig<DownstreamTlsContext__Output>(chain.transport_socket.typed_config!, `${where}.transport_socket.typed_config`);
      if (!ctx.common_tls_context) throw new Error(`${where}.transport_socket: common_tls_context is required`);
      tls = { material: compileTlsContext(ctx.common_tls_context, deps.secrets, `${where}.transport_socket.common_tls_context`), requireClient: ctx.require_client_certificate?.value ?? false };
    } else if (!type.endsWith("RawBuffer") && chain.transport_socket.name !== "envoy.transport_sockets.raw_buffer") {
      throw new Error(`${where}.transport_socket: ${type} is not supported (tls and raw_buffer are)`);
    }
  }
  const m = chain.filter_chain_match;
  const port = m?.destination_port?.value;
  const dst = cidrList(m?.prefix_ranges ?? []);
  const src = cidrList(m?.source_prefix_ranges ?? []);
  const transport = m?.transport_protocol || "";
  const serverNames = m?.server_names ?? [];
  const alpn = m?.application_protocols ?? [];
  if (chain.filters.length === 0) throw new Error(`${where}.filters: a filter chain needs a network filter`);
  const { rbac, filter } = compileFilters(chain, deps, where, direction);
  return {
    name: chain.name,
    listener,
    filter,
    rbac,
    tls,
    readsHello: serverNames.length > 0 || alpn.length > 0,
    readsTransport: transport !== "",
    score: (c) => {
      if ((port !== undefined && c.dstPort !== port) || (dst && !dst(c.dstIp)) || (src && !src(c.srcIp)) || (transport !== "" && transport !== c.transport)) return undefined;
      const sni = serverNameScore(serverNames, c.serverName);
      if (sni < 0 || (alpn.length > 0 && !alpn.some((a) => c.alpn.includes(a)))) return undefined;
      return [port === undefined ? 0 : 1, dst ? 1 : 0, sni, transport ? 1 : 0, alpn.length ? 1 : 0, src ? 1 : 0];
    },
  };
}

/** The compiled, swappable part of a listener: new config replaces it while the socket stays bound. */
export class ListenerConfig {
  readonly chains: Chain[];
  readonly defaultChain?: Chain;
  readonly useOriginalDst: boolean;
  /** Some chain matches on the ClientHello (Envoy's tls_inspector, implied here as Istio configures it). */
  readonly readsHello: boolean;
  /** How long a connection's first bytes may take: the listener filters' timeout, or sooner when HTTP wants its head. */
  readonly peekTimeoutMs: number;

  constructor(readonly config: Listener__Output, deps: ListenerDeps) {
    const where = `listener ${config.name}`;
    const direction = config.traffic_direction;
    this.chains = config.filter_chains.map((c, i) => compileChain(c, deps, `${where}.filter_chains[${i}]`, direction, config.name));
    this.defaultChain = config.default_filter_chain ? compileChain(config.default_filter_chain, deps, `${where}.default_filter_chain`, direction, config.name) : undefined;
    this.readsHello = this.chains.some((c) => c.readsHello);
    this.peekTimeoutMs = Math.min(HELLO_TIMEOUT_MS, ...this.filters().map((f) => (f instanceof HttpConnectionManager && f.firstBytesTimeoutMs > 0 ? f.firstBytesTimeoutMs : HELLO_TIMEOUT_MS)));
    this.useOriginalDst = wrappedBool(config.use_original_dst) || config.listener_filters.some((f) => f.name === "envoy.filters.listener.original_dst" || f.typed_config?.type_url.endsWith("original_dst.v3.OriginalDst"));
    for (const [i, f] of config.listener_filters.entries()) {
      const t = f.typed_config?.type_url ?? f.name;
      if (!/original_dst|tls_inspector|http_inspector/.test(t + f.name)) throw new Error(`${where}.listener_filters[${i}]: ${f.name} is not supported (original_dst, tls_inspector, http_inspector are)`);
    }
  }

  /** Network filters, for draining them on replacement. */
  filters(): NetworkFilter[] {
    return [...this.chains.map((c) => c.filter), ...(this.defaultChain ? [this.defaultChain.filter] : [])];
  }
}

function wrappedBool(v: { value: boolean } | null): boolean {
  return v ? v.value : false;
}

export class ActiveListener {
  private server: Server;
  private current: ListenerConfig;
  private readonly sockets = new Set<Socket>();
  boundPort = 0;

  constructor(readonly name: string, config: ListenerConfig, private readonly onConnection: (l: ActiveListener, socket: Socket) => boolean) {
    this.current = config;
    // Half-open connections are allowed so a TCP client's FIN does not cut the answer still coming back.
    this.server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.accept(socket));
    this.server.on("error", (err) => console.error(`trellis proxy: listener ${name}: ${err.message}`));
  }

  get config(): ListenerConfig {
    return this.current;
  }

  address(): { address: string; port: number } {
    const sa = this.current.config.address?.socket_address;
    return { address: sa?.address ?? "0.0.0.0", port: sa?.port_value ?? 0 };
  }

  listen(): Promise<void> {
    const { address, port } = this.address();
    if (this.current.config.bind_to_port && !this.current.config.bind_to_port.value) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(new Error(`listener ${this.name}: cannot bind ${address}:${port}: ${err.message}`));
      this.server.once("error", onError);
      this.server.listen({ host: address, port, backlog: 1024 }, () => {
        this.server.off("error", onError);
        this.boundPort = (this.server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  /** Swaps in new filter chains; connections already accepted stay with the chains that took them. */
  update(config: ListenerConfig): ListenerConfig {
    const old = this.current;
    this.current = config;
    return old;
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (this.current.useOriginalDst && this.onConnection(this, socket)) return;
    this.dispatch(socket, originalDestination(socket));
  }

  /** Runs a connection through this listener's filter chains (also used for connections handed over by 15001). */
  dispatch(socket: Socket, originalDst: { address: string; port: number } | undefined, firstBytes?: Buffer): void {
    const cfg = this.current;
    const conn: ConnectionInfo = {
      remoteAddress: socket.remoteAddress ?? "", remotePort: socket.remotePort ?? 0,
      localAddress: socket.localAddress ?? "", localPort: socket.localPort ?? 0,
      originalDst, tls: false,
    };
    const dstPort = originalDst?.port ?? conn.localPort;
    const dstIp = originalDst?.address ?? conn.localAddress;
    const pickAndGo = (bytes: Buffer | undefined) => {
      const transport = bytes && bytes[0] === 0x16 ? "tls" : "raw_buffer";
      const hello = transport === "tls" && cfg.readsHello ? parseClientHello(bytes!) : { alpn: [] as string[], serverName: undefined };
      const facts = { dstPort, dstIp, srcIp: conn.remoteAddress, transport, serverName: hello.serverName, alpn: hello.alpn };
      const chain = selectChain(cfg.chains, facts) ?? cfg.defaultChain;
      if (!chain) {
        socket.destroy();
        return;
      }
      if (chain.tls) return terminateTls(socket, bytes, chain, conn);
      if (!chain.rbac.every((r) => r.allows(conn))) return void socket.destroy();
      chain.filter.handleConnection(socket, conn, bytes);
    };
    if (firstBytes) return pickAndGo(firstBytes);
    // Only what the first bytes tell (TLS or not, the ClientHello, HTTP/2 or not) needs them: chains that differ by
    // port or address are chosen at once, so a server that speaks first (MySQL, SMTP) is not kept waiting.
    const needsPeek = cfg.chains.some((c) => c.filter instanceof HttpConnectionManager || c.readsTransport) || cfg.readsHello;
    if (!needsPeek) return pickAndGo(undefined);
    // Peek at the first bytes (TLS or not, HTTP/2 preface or not); the chosen filter gets them back. A chain that
    // matches on SNI or ALPN needs the whole ClientHello, which may come in several segments (bounded).
    let peeked: Buffer | undefined;
    const onData = (chunk: Buffer) => {
      peeked = peeked ? Buffer.concat([peeked, chunk]) : chunk;
      const need = cfg.readsHello ? clientHelloLength(peeked) : undefined;
      if (need !== undefined && peeked.length < Math.min(need, MAX_HELLO_BYTES)) return;
      socket.off("data", onData);
      socket.off("end", onEnd);
      clearTimeout(helloTimer);
      socket.pause();
      pickAndGo(peeked);
    };
    const helloTimer = setTimeout(() => socket.destroy(), cfg.peekTimeoutMs);
    socket.on("data", onData);
    // A client that half-closes before its first bytes were judged (a truncated ClientHello, say) will send no more.
    const onEnd = () => socket.destroy();
    socket.once("end", onEnd);
    socket.once("close", () => clearTimeout(helloTimer));
  }

  /** Stops accepting; open connections finish (HTTP gets drained by its connection managers). */
  async close(drainMs: number): Promise<void> {
    // close() stops accepting at once; its callback would wait for every connection, which draining handles below.
    this.server.close();
    await Promise.all(this.current.filters().map((f) => (f instanceof HttpConnectionManager ? f.drain(drainMs) : Promise.resolve())));
    const deadline = Date.now() + drainMs;
    while (this.sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const s of this.sockets) s.destroy();
  }
}
