// One request's way through the upstream layers, after the cluster is chosen: the route timeout, attempts (host
// choice, one upstream attempt, per-try timeout), retries by the policy with back-off and the retry breaker, body
// replay, shadowing, and the response or the local reply that ends it. State lives on one object per request.
import { type Endpoint, workloadOf } from "../../upstream/endpoint.js";
import type { UpstreamCluster } from "../../upstream/cluster.js";
import type { Stats } from "../../stats/stats.js";
import { localReply } from "../local-reply.js";
import type { ClusterChoice } from "../route-table.js";
import type { StreamContext } from "../stream-context.js";
import { pumpRequestBody, ReplayBuffer } from "./body-replay.js";
import { type ClusterLookup, type Forward, pickHost, requestHash } from "./cluster-choice.js";
import { respond } from "./respond.js";
import { backoffMs, exhausted, mayRetry } from "./retry-policy.js";
import { shadow } from "./shadowing.js";
import { armTimer, deadlineOf, perTryTimeoutMs } from "./timeouts.js";
import { startAttempt } from "./upstream-attempt.js";
import { type Attempt, discardBody, type UpstreamOutcome } from "./upstream-outcome.js";

export interface ForwardTarget {
  action: Forward;
  choice: ClusterChoice;
  cluster: UpstreamCluster;
  path: string;
  authority: string;
}

function onRouteTimeout(r: ForwardedRequest): void {
  r.routeTimedOut();
}

export class ForwardedRequest {
  private attempts = 0;
  private current: Attempt | undefined;
  private finished = false;
  private readonly hash: number | undefined;
  private readonly perTry: number;
  private readonly deadline: number;
  /** Hosts already tried, kept only when the retry policy steers away from them (previous_hosts). */
  private readonly tried: Set<string> | undefined;
  private readonly replay: ReplayBuffer | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: StreamContext, private readonly t: ForwardTarget, private readonly clusters: ClusterLookup, private readonly stats: Stats) {
    const retry = t.action.retry;
    this.hash = requestHash(ctx, t.action);
    this.perTry = perTryTimeoutMs(retry);
    this.deadline = deadlineOf(t.action.timeoutMs, Date.now());
    this.tried = retry?.previousHosts ? new Set() : undefined;
    this.replay = retry !== undefined && retry.numRetries > 0 ? new ReplayBuffer() : undefined;
  }

  /** The cluster's stat prefix, built only on the paths that count something (not per request). */
  private get cs(): string {
    return `cluster.${this.t.cluster.name}`;
  }

  start(): void {
    const { ctx, t } = this;
    t.cluster.activeRequests++;
    this.stats.gauge(t.cluster.rqStats.active, 1);
    ctx.cancelUpstream = () => {
      this.current?.abort();
      this.finish();
    };
    ctx.res.once("close", () => {
      if (!ctx.res.writableFinished) {
        ctx.flags.push("DC");
        this.current?.abort();
      }
      this.finish();
    });
    this.timer = armTimer(t.action.timeoutMs, onRouteTimeout, this);
    const first = this.attempt(false);
    if (!first) return;
    pumpRequestBody(ctx, first.sink, this.replay);
    if (t.action.mirrors.length > 0) shadow(ctx, t.action, this.clusters, this.stats, t.path, t.authority, ctx.upstreamHeaders);
  }

  /** Releases the request's hold on the cluster (once): its end, a downstream reset, or a local reply. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.t.cluster.activeRequests--;
    this.stats.gauge(this.t.cluster.rqStats.active, -1);
    if (this.timer) clearTimeout(this.timer);
  }

  /** The route timeout fired: the attempt in flight is given up and the downstream gets a 504 (UT). */
  routeTimedOut(): void {
    this.current?.abort();
    this.stats.inc(`${this.cs}.upstream_rq_timeout`);
    localReply(this.ctx, 504, "upstream request timeout", "UT");
    this.finish();
  }

  /** Starts one attempt on a host; `replay` sends the held body (a retry) instead of the live one. */
  private attempt(replay: boolean): Attempt | undefined {
    const { ctx, t } = this;
    this.attempts++;
    const host = pickHost(t.cluster, ctx, this.hash, this.tried);
    if (!host) {
      this.stats.inc(`${this.cs}.upstream_cx_none_healthy`);
      localReply(ctx, 503, "no healthy upstream", "UH");
      this.finish();
      return undefined;
    }
    this.tried?.add(host.key);
    ctx.upstreamHost = host.key;
    ctx.upstreamWorkload = workloadOf(host);
    host.activeRequests++;
    const sentAt = Date.now();
    // auto_host_rewrite: the chosen host's name (a DNS cluster's, or an endpoint's hostname), per attempt.
    const authority = t.action.autoHostRewrite && host.hostname ? host.hostname : t.authority;
    // Only a retry changes the headers it sends; the first attempt sends them as they are.
    const headers = this.attempts > 1 ? { ...ctx.upstreamHeaders, "x-envoy-attempt-count": String(this.attempts) } : ctx.upstreamHeaders;
    const a = startAttempt({ cluster: t.cluster, host, ctx, path: t.path, authority, headers, perTryMs: this.perTry, stats: this.stats }, (o) => this.onOutcome(host, o, sentAt));
    this.current = a;
    if (replay) this.replay!.replayTo(a.sink);
    return a;
  }

  private onOutcome(host: Endpoint, outcome: UpstreamOutcome, sentAt: number): void {
    const { ctx, t } = this;
    host.activeRequests--;
    t.cluster.recordResult(host, outcome.kind === "response" ? outcome.status : outcome.reason);
    if (ctx.responded || this.finished) return discardBody(outcome);
    // Counted whenever a try is cut short, retried or not, as Envoy counts it.
    if (this.perTry > 0 && outcome.kind === "failure" && outcome.reason === "timeout") this.stats.inc(`${this.cs}.upstream_rq_per_try_timeout`);
    if (this.retried(outcome)) return;
    if (exhausted(t.action.retry, this.attempts, outcome)) ctx.flags.push("URX");
    if (outcome.kind === "failure") return this.fail(outcome);
    respond(ctx, outcome, t.choice, t.cluster, this.stats, sentAt, () => this.finish());
  }

  /** Schedules a retry when the policy and the retry breaker allow one; false when the outcome stands. */
  private retried(outcome: UpstreamOutcome): boolean {
    const { cluster, action } = this.t;
    const state = { attempts: this.attempts, replayable: this.replay?.replayable ?? true, deadline: this.deadline, now: Date.now() };
    if (!mayRetry(action.retry, outcome, state)) return false;
    if (cluster.activeRetries >= cluster.breakers.maxRetries) {
      this.stats.inc(`${this.cs}.upstream_rq_retry_overflow`);
      return false;
    }
    discardBody(outcome);
    this.stats.inc(`${this.cs}.upstream_rq_retry`);
    cluster.activeRetries++;
    setTimeout(() => {
      cluster.activeRetries--;
      if (!this.ctx.responded && !this.finished) this.attempt(true);
    }, backoffMs(action.retry, this.attempts, Math.random())).unref();
    return true;
  }

  private fail(outcome: Extract<UpstreamOutcome, { kind: "failure" }>): void {
    const flag = outcome.reason === "connect-failure" ? "UF" : outcome.reason === "timeout" ? "UT" : "UC";
    if (outcome.reason !== "timeout") this.stats.inc(`${this.cs}.upstream_rq_pending_failure_eject`);
    else if (this.perTry === 0) this.stats.inc(`${this.cs}.upstream_rq_timeout`);
    if (outcome.reason === "timeout") localReply(this.ctx, 504, "upstream request timeout", flag);
    else localReply(this.ctx, 503, `upstream connect error or disconnect/reset before headers. reset reason: ${outcome.reason === "connect-failure" ? "connection failure" : "connection termination"}${outcome.message ? `, transport failure reason: ${outcome.message}` : ""}`, flag);
    this.finish();
  }
}
