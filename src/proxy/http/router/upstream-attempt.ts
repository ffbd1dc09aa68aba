// One upstream attempt: the request to one host over the cluster's pool, in the cluster's protocol (HTTP/1.1 via
// our codec, HTTP/2 via a pooled session), settled exactly once with a response or a failure (the per-try timeout
// included).
import { sendH1 } from "./h1-attempt.js";
import { sendH2 } from "./h2-attempt.js";
import type { Attempt, AttemptRequest, UpstreamOutcome } from "./upstream-outcome.js";

/** Starts the attempt; `onOutcome` is called exactly once. */
export function startAttempt(r: AttemptRequest, onOutcome: (o: UpstreamOutcome) => void): Attempt {
  return r.cluster.http2 ? sendH2(r, onOutcome) : sendH1(r, onOutcome);
}
