// Kubernetes identity for CSRs and xDS streams: a pod's projected service-account token (audience istio-ca) is checked
// with the API server's TokenReview, as istiod does; the identity is the token's service account, the pod comes from
// the token's extra info, and what the proxy may register (service, labels) is read from that pod, not its word.
import { createHash } from "node:crypto";
import type { Identity } from "../../identity/spiffe.js";
import { checkIdentityNames, DEFAULT_TRUST_DOMAIN } from "../../identity/spiffe.js";
import type { KubeClient, KubeObject } from "./client.js";
import type { AuthnResult, ProvenCaller, WorkloadAuthenticator } from "../ca/workload-authenticator.js";

/** Istio's audience for tokens sent to istiod's CA and xDS (the sidecar injector projects the token with it). */
export const ISTIO_CA_AUDIENCE = "istio-ca";
const POD_NAME = "authentication.kubernetes.io/pod-name";
const POD_UID = "authentication.kubernetes.io/pod-uid";

export interface ReviewedToken {
  identity: Identity;
  /** The pod the token is bound to, when it is bound to one (projected tokens are). */
  pod?: { name: string; uid?: string };
}

export type ReviewResult = { ok: true; token: ReviewedToken } | { ok: false; error: string };

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; extra?: Record<string, string[]> };
}

export interface TokenReviewerOptions {
  audiences?: string[];
  trustDomain?: string;
  /** How long an answer (yes or no) is reused for the same token; TokenReview costs a round trip. Default 30 s. */
  cacheMs?: number;
  /** Most tokens remembered at once (oldest dropped first). */
  cacheSize?: number;
  now?: () => number;
}

/** Turns a token into an identity through TokenReview, remembering recent answers briefly. */
export class TokenReviewer {
  private readonly cache = new Map<string, { until: number; result: ReviewResult }>();
  private readonly audiences: string[];
  private readonly trustDomain: string;
  private readonly cacheMs: number;
  private readonly cacheSize: number;
  private readonly now: () => number;

  constructor(private readonly client: KubeClient, options: TokenReviewerOptions = {}) {
    this.audiences = options.audiences ?? [ISTIO_CA_AUDIENCE];
    this.trustDomain = options.trustDomain ?? DEFAULT_TRUST_DOMAIN;
    this.cacheMs = options.cacheMs ?? 30_000;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Rejects only when the API server cannot answer (the caller reports UNAVAILABLE); a bad token is `ok: false`. */
  async review(token: string): Promise<ReviewResult> {
    // Keyed by a hash, so the cache holds no usable token.
    const key = createHash("sha256").update(token).digest("base64");
    const hit = this.cache.get(key);
    if (hit && this.now() < hit.until) return hit.result;
    const result = await this.ask(token);
    this.cache.delete(key);
    // Never past the token's own expiry: a cached yes must not outlive the token.
    const exp = expiryMs(token);
    this.cache.set(key, { until: Math.min(this.now() + this.cacheMs, exp ?? Infinity), result });
    for (const k of this.cache.keys()) {
      if (this.cache.size <= this.cacheSize) break;
      this.cache.delete(k);
    }
    return result;
  }

  private async ask(token: string): Promise<ReviewResult> {
    // A 403 here names the missing rule ("create" on "tokenreviews"): see manifests/control-plane-rbac.yaml.
    const answer = await this.client.request<{ status?: TokenReviewStatus }>("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: this.audiences } },
      timeoutMs: 10_000,
    });
    const status = answer.status ?? {};
    return interpret(status, this.audiences, this.trustDomain);
  }
}

/** The `exp` claim of a JWT in ms (unverified: it only shortens the cache), or undefined. */
function expiryMs(token: string): number | undefined {
  try {
    const exp = (JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { exp?: unknown }).exp;
    return typeof exp === "number" ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** A TokenReview's status as an identity, or why the token is refused. Pure, so the rules are testable by table. */
export function interpret(status: TokenReviewStatus, audiences: string[], trustDomain: string): ReviewResult {
  if (!status.authenticated) {
    return { ok: false, error: `the API server does not accept the token for audience ${audiences.join(",")}${status.error ? `: ${status.error}` : ""}; mount a projected service-account token with audience ${audiences[0]}` };
  }
  // The API server answers with the audiences the token holds among those asked; none means it was not meant for us.
  const held = status.audiences ?? [];
  if (!audiences.some((a) => held.includes(a))) {
    return { ok: false, error: `the token is not for audience ${audiences.join(",")} (it holds ${held.join(",") || "none of them"})` };
  }
  const username = status.user?.username ?? "";
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  if (!m) return { ok: false, error: `the token belongs to ${username || "an unnamed user"}, not a service account; workloads prove themselves with their pod's service-account token` };
  const bad = checkIdentityNames(m[1], m[2]);
  if (bad) return { ok: false, error: `the token's ${bad}` };
  const extra = status.user?.extra ?? {};
  const podName = extra[POD_NAME]?.[0];
  return { ok: true, token: { identity: { trustDomain, namespace: m[1], serviceAccount: m[2] }, ...(podName ? { pod: { name: podName, uid: extra[POD_UID]?.[0] } } : {}) } };
}

/**
 * The authenticator for Kubernetes mode: TokenReview for the identity, then the bound pod (read from the API server,
 * checked to be the same pod by uid and to run as that service account) for the scope.
 */
export function kubeAuthenticator(client: KubeClient, reviewer: TokenReviewer): WorkloadAuthenticator {
  return {
    async authenticate(credential): Promise<AuthnResult> {
      const reviewed = await reviewer.review(credential);
      if (!reviewed.ok) return reviewed;
      const { identity, pod } = reviewed.token;
      const caller: ProvenCaller = { identity, scope: {}, credential: "service-account token" };
      if (!pod) return { ok: true, caller };
      const obj = await client.find<KubeObject & { spec?: { serviceAccountName?: string } }>(`/api/v1/namespaces/${identity.namespace}/pods/${encodeURIComponent(pod.name)}`);
      if (!obj || (pod.uid && obj.metadata.uid !== pod.uid)) return { ok: false, error: `the token is bound to pod ${identity.namespace}/${pod.name}, which no longer exists` };
      if ((obj.spec?.serviceAccountName ?? "default") !== identity.serviceAccount) return { ok: false, error: `pod ${identity.namespace}/${pod.name} does not run as service account ${identity.serviceAccount}` };
      const labels = obj.metadata.labels ?? {};
      caller.scope = { labels, ...(labels.app ? { service: labels.app } : {}) };
      caller.credential = `pod ${pod.name}'s service-account token`;
      return { ok: true, caller };
    },
  };
}
