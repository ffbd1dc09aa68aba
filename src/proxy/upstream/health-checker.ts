// Active health checking (a cluster's health_checks): each host is probed on an interval over HTTP (a GET whose
// status must be expected) or TCP (a connect), over the cluster's TLS when it has one. A host goes unhealthy after
// unhealthy_threshold failures in a row and back after healthy_threshold successes; a new host counts as failed until
// its first check passes, as Envoy marks it PENDING_ACTIVE_HC.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import type { HealthCheck__Output } from "../../xds/generated/envoy/config/core/v3/HealthCheck.js";
import type { Stats } from "../stats/stats.js";
import { durationMs } from "../util/duration.js";
import type { Endpoint } from "./endpoint.js";

interface HostState {
  pending: boolean;
  successes: number;
  failures: number;
  probing: boolean;
}

export interface CheckedCluster {
  name: string;
  hosts(): Endpoint[];
  /** TLS options for a connection to a host, undefined for plaintext (throws while certificates are not ready). */
  tls(host: Endpoint): ConnectionOptions | undefined;
  /** A host's health changed: the cluster recomputes its priority and locality loads. */
  healthChanged(): void;
}

export class ActiveHealthChecker {
  private readonly timeoutMs: number;
  private readonly intervalMs: number;
  private readonly unhealthyThreshold: number;
  private readonly healthyThreshold: number;
  private readonly http?: { path: string; host: string; expected: Array<[number, number]> };
  private readonly states = new WeakMap<Endpoint, HostState>();
  private timer?: NodeJS.Timeout;
  private readonly prefix: string;

  constructor(config: HealthCheck__Output, private readonly cluster: CheckedCluster, private readonly stats: Stats, where: string) {
    if (!config.timeout) throw new Error(`${where}.timeout is required`);
    if (!config.interval) throw new Error(`${where}.interval is required`);
    if (!config.unhealthy_threshold) throw new Error(`${where}.unhealthy_threshold is required`);
    if (!config.healthy_threshold) throw new Error(`${where}.healthy_threshold is required`);
    this.timeoutMs = durationMs(config.timeout, 1000);
    this.intervalMs = Math.max(10, durationMs(config.interval, 5000));
    this.unhealthyThreshold = Math.max(1, config.unhealthy_threshold.value);
    this.healthyThreshold = Math.max(1, config.healthy_threshold.value);
    if (config.health_checker === "http_health_check") {
      const h = config.http_health_check!;
      if (!h.path) throw new Error(`${where}.http_health_check.path is required`);
      const expected: Array<[number, number]> = h.expected_statuses.length ? h.expected_statuses.map((r) => [Number(r.start), Number(r.end)]) : [[200, 201]];
      this.http = { path: h.path, host: h.host || cluster.name, expected };
    } else if (config.health_checker === "tcp_health_check") {
      const t = config.tcp_health_check!;
      if (t.send || t.receive.length) throw new Error(`${where}.tcp_health_check: send/receive payloads are not supported; an empty tcp_health_check checks that a connection opens`);
    } else {
      throw new Error(`${where}: ${config.health_checker ?? "a health checker"} is not supported (http_health_check and tcp_health_check are)`);
    }
    this.prefix = `cluster.${cluster.name}.health_check`;
  }

  start(): void {
    this.sync();
    this.timer = setInterval(() => this.round(), this.intervalMs);
    this.timer.unref();
  }

  /** Hosts the assignment just added start failed (pending) and are probed at once. */
  sync(): void {
    for (const host of this.cluster.hosts()) {
      if (this.states.has(host)) continue;
      this.states.set(host, { pending: true, successes: 0, failures: 0, probing: false });
      host.hcHealthy = false;
      this.probe(host);
    }
    this.updateGauge();
    this.cluster.healthChanged();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private round(): void {
    for (const host of this.cluster.hosts()) this.probe(host);
  }

  private probe(host: Endpoint): void {
    const state = this.states.get(host);
    if (!state || state.probing) return;
    state.probing = true;
    this.stats.inc(`${this.prefix}.attempt`);
    this.check(host).then((ok) => {
      state.probing = false;
      this.record(host, state, ok);
    });
  }

  private record(host: Endpoint, state: HostState, ok: boolean): void {
    this.stats.inc(`${this.prefix}.${ok ? "success" : "failure"}`);
    const was = host.hcHealthy;
    if (ok) {
      state.failures = 0;
      state.successes++;
      if (state.pending || (!host.hcHealthy && state.successes >= this.healthyThreshold)) host.hcHealthy = true;
    } else {
      state.successes = 0;
      state.failures++;
      if (host.hcHealthy && state.failures >= this.unhealthyThreshold) host.hcHealthy = false;
    }
    state.pending = false;
    this.updateGauge();
    if (host.hcHealthy !== was) this.cluster.healthChanged();
  }

  private updateGauge(): void {
    this.stats.setGauge(`${this.prefix}.healthy`, this.cluster.hosts().filter((h) => h.hcHealthy).length);
  }

  private check(host: Endpoint): Promise<boolean> {
    let tls: ConnectionOptions | undefined;
    try {
      tls = this.cluster.tls(host);
    } catch {
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean) => { if (!done) { done = true; resolve(ok); } };
      if (!this.http) {
        const socket = tls ? tlsConnect({ host: host.address, port: host.port, ...tls }) : netConnect({ host: host.address, port: host.port });
        socket.setTimeout(this.timeoutMs, () => { socket.destroy(); finish(false); });
        socket.once(tls ? "secureConnect" : "connect", () => { socket.destroy(); finish(true); });
        socket.once("error", () => finish(false));
        return;
      }
      const { path, host: authority, expected } = this.http;
      const req = (tls ? httpsRequest : httpRequest)({ host: host.address, port: host.port, path, method: "GET", agent: false, timeout: this.timeoutMs, headers: { host: authority, "user-agent": "Envoy/HC" }, ...(tls ?? {}) }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        finish(expected.some(([start, end]) => status >= start && status < end));
      });
      req.on("timeout", () => { req.destroy(); finish(false); });
      req.on("error", () => finish(false));
      req.end();
    });
  }
}
