// Keep-alive connection pools to a cluster's hosts: HTTP/1.1 through one Agent (sockets per host), HTTP/2 with one
// multiplexed session per host. Hosts leaving the cluster have their idle connections closed.
import { Agent, type ClientRequest } from "node:http";
import { Agent as TlsAgent } from "node:https";
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from "node:tls";
import { connect, type ClientHttp2Session } from "node:http2";
import { connect as netConnect, type Socket } from "node:net";
import type { Stats } from "../stats/stats.js";
import type { UpstreamTls } from "./upstream-tls.js";
import { Http1ClientPool } from "../http1/client-pool.js";
import { handshakeReason, logHandshakeFailure, presented } from "../tls/handshake-log.js";

/** Errors of upstream TLS handshakes that failed: the router counts them as connect failures (UF), as Envoy does. */
const handshakeFailures = new WeakSet<object>();
export function isHandshakeFailure(err: unknown): boolean {
  return typeof err === "object" && err !== null && handshakeFailures.has(err);
}

export interface PoolOptions {
  http2: boolean;
  connectTimeoutMs: number;
  maxConnectionsPerHost: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  idleTimeoutMs: number;
  tls?: UpstreamTls;
  stats: Stats;
  statPrefix: string;
}

export class ConnectionPools {
  /** Node's agent, for side requests (ext_authz); the router's HTTP/1.1 traffic goes through `h1`. */
  agent: Agent;
  readonly h1: Http1ClientPool;
  private tlsKey = "";
  private generation = 0;
  private lastCert: string | Buffer | undefined;
  private lastCa: string | Buffer | undefined;
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private readonly uses = new WeakMap<Socket, number>();

  constructor(readonly options: PoolOptions) {
    this.agent = this.newAgent();
    this.h1 = new Http1ClientPool({
      connectTimeoutMs: options.connectTimeoutMs, maxConnectionsPerHost: options.maxConnectionsPerHost, maxRequestsPerConnection: options.maxRequestsPerConnection,
      idleTimeoutMs: options.idleTimeoutMs, stats: options.stats, statPrefix: options.statPrefix,
      dial: (host, port) => {
        const tls = this.tlsOptions(["http/1.1"]);
        if (!tls) return { socket: netConnect({ host, port }), secure: false };
        return { socket: this.watchHandshake(tlsConnect({ host, port, ...tls }), { host, port }), secure: true };
      },
      generation: () => this.materialGeneration(),
    });
  }

  /** Counts rotations of the TLS material (compared by identity: the strings are replaced when secrets change). */
  private materialGeneration(): number {
    const tls = this.options.tls;
    if (!tls) return 0;
    const m = tls.material();
    if (m.cert !== this.lastCert || m.ca !== this.lastCa) {
      this.lastCert = m.cert;
      this.lastCa = m.ca;
      this.generation++;
    }
    return this.generation;
  }

  /** TLS options for a new connection, from the current secret material; undefined for plaintext. */
  tlsOptions(alpn: string[]): ConnectionOptions | undefined {
    const tls = this.options.tls;
    if (!tls) return undefined;
    const m = tls.material();
    if ((tls.clientCert && (!m.cert || !m.key)) || (tls.trust && !m.ca)) throw Object.assign(new Error("upstream TLS material (certificate, key or trust) is not available yet"), { code: "TRELLIS_TLS_NOT_READY" });
    return {
      cert: m.cert, key: m.key, ca: m.ca, servername: tls.servername, ALPNProtocols: m.alpn.length ? m.alpn : alpn,
      rejectUnauthorized: tls.verify,
      // Mesh peers are checked by their SPIFFE identity, not by host name.
      checkServerIdentity: (_host, cert) => (tls.verify ? m.verifySan?.(cert) : undefined),
    };
  }

  /** The HTTP/1.1 agent; with TLS, a new agent once rotated secrets change the material (old connections finish). */
  currentAgent(): Agent {
    if (!this.options.tls) return this.agent;
    const opts = this.tlsOptions(["http/1.1"])!;
    const key = `${opts.cert}|${opts.ca}`;
    if (key !== this.tlsKey) {
      this.tlsKey = key;
      this.agent = this.newAgent(opts);
    }
    return this.agent;
  }

  private newAgent(tls?: ConnectionOptions): Agent {
    const options = this.options;
    const base = { keepAlive: true, maxSockets: options.maxConnectionsPerHost, maxFreeSockets: 1024, scheduling: "lifo" as const, timeout: options.idleTimeoutMs };
    const agent = tls ? new TlsAgent({ ...base, ...tls }) : new Agent(base);
    const stats = options.stats;
    const prefix = options.statPrefix;
    const maxUses = options.maxRequestsPerConnection;
    if (maxUses > 0) {
      // A socket's uses are counted when a request gets it; a fresh socket the agent opens for a waiting request
      // also emits "free" first, and must not count as used.
      // addRequest is the Agent's (undocumented but stable) entry for every request it serves.
      const withAdd = agent as unknown as { addRequest: (req: ClientRequest, opts: object) => void };
      const add = withAdd.addRequest.bind(agent);
      withAdd.addRequest = (req, opts) => {
        req.once("socket", (socket: Socket) => this.uses.set(socket, (this.uses.get(socket) ?? 0) + 1));
        add(req, opts);
      };
      // Ahead of the agent's own "free" handler, which would otherwise hand the used-up socket to a waiting request
      // before it is closed (that request then fails with ECONNRESET); destroyed first, the agent opens a new one.
      agent.prependListener("free", (socket: Socket) => {
        if ((this.uses.get(socket) ?? 0) < maxUses) return;
        stats.inc(`${prefix}.upstream_cx_max_requests`);
        socket.destroy();
      });
    }
    const origCreate = agent.createConnection.bind(agent);
    // Count connections as Envoy's upstream_cx_total / upstream_cx_active do.
    agent.createConnection = ((opts: object, cb: Parameters<typeof origCreate>[1]) => {
      const socket = origCreate(opts, cb) as Socket;
      socket.setNoDelay(true);
      if (tls) this.watchHandshake(socket as TLSSocket, opts as { host?: string; port?: number });
      stats.inc(`${prefix}.upstream_cx_total`);
      stats.gauge(`${prefix}.upstream_cx_active`, 1);
      socket.once("close", () => stats.gauge(`${prefix}.upstream_cx_active`, -1));
      return socket;
    }) as typeof agent.createConnection;
    return agent;
  }

  /** The multiplexed session to a host, connecting if there is none or it is closing. */
  session(address: string, port: number): ClientHttp2Session {
    const key = `${address}:${port}`;
    const existing = this.sessions.get(key);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const host = address.includes(":") ? `[${address}]` : address;
    const tls = this.tlsOptions(["h2"]);
    const session = connect(`${tls ? "https" : "http"}://${host}:${port}`, { settings: { enablePush: false }, ...tls,
      // Dialled here rather than by http2, so a failed handshake is seen (and logged) as one.
      ...(tls ? { createConnection: () => this.watchHandshake(tlsConnect({ host: address, port, ...tls }), { host: address, port }) } : {}) });
    const stats = this.options.stats;
    const prefix = this.options.statPrefix;
    stats.inc(`${prefix}.upstream_cx_total`);
    stats.inc(`${prefix}.upstream_cx_http2_total`);
    stats.gauge(`${prefix}.upstream_cx_active`, 1);
    const forget = () => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
    };
    session.once("close", () => {
      forget();
      stats.gauge(`${prefix}.upstream_cx_active`, -1);
    });
    session.once("goaway", forget);
    session.on("error", forget);
    session.setTimeout(this.options.idleTimeoutMs, () => session.close());
    this.sessions.set(key, session);
    return session;
  }

  /**
   * Logs a TLS handshake with a host that failed once the TCP connection was up, and marks its error for the router:
   * the host's certificate refused (another CA's, expired, not the expected identity) or the handshake otherwise failed.
   */
  private watchHandshake(socket: TLSSocket, to: { host?: string; port?: number }): TLSSocket {
    let connected = false;
    let secured = false;
    let cert: PeerCertificate | undefined;
    socket.once("connect", () => (connected = true));
    socket.once("secureConnect", () => (secured = true));
    // Ahead of Node's own check of the certificate, which destroys the socket when it refuses it.
    socket.prependOnceListener("secure", () => (cert = socket.getPeerCertificate()));
    socket.once("error", (err: Error & { code?: string }) => {
      if (!connected || secured) return;
      handshakeFailures.add(err);
      const hasCert = !!cert && Object.keys(cert).length > 0;
      const peer = to.host?.includes(":") ? `[${to.host}]:${to.port}` : `${to.host}:${to.port}`;
      logHandshakeFailure(this, { where: `cluster ${this.options.statPrefix.replace(/^cluster\./, "")}`, direction: "to", peer, refused: hasCert, reason: handshakeReason(err), certificate: hasCert ? presented(cert) : undefined });
    });
    return socket;
  }

  /** Closes idle connections to a host that left the cluster; requests in flight finish. */
  drainHost(key: string): void {
    this.h1.drainHost(key);
    const session = this.sessions.get(key);
    if (session) {
      this.sessions.delete(key);
      session.close();
    }
    const free = (this.agent.freeSockets as Record<string, Socket[] | undefined>);
    for (const name of Object.keys(free)) if (name.startsWith(`${key}:`)) for (const s of free[name] ?? []) s.destroy();
  }

  /** Requests waiting for a connection to any host (for the max_pending_requests breaker). */
  pending(): number {
    let n = this.h1.pending();
    const requests = this.agent.requests as Record<string, unknown[] | undefined>;
    for (const k in requests) n += requests[k]?.length ?? 0;
    return n;
  }

  close(): void {
    this.h1.close();
    this.agent.destroy();
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}

