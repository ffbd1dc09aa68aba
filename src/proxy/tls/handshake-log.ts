// The log line of a refused or failed TLS handshake (inbound on a listener, outbound to a cluster's host): the peer,
// where, and why, on one line, at most one a second per listener chain or cluster, never key material.
import type { PeerCertificate } from "node:tls";
import { peerPrincipal } from "./tls-context.js";

const INTERVAL_MS = 1000;
const MAX_REASON = 300;

/** Printable ASCII on one line: what a peer controls (its certificate's names, OpenSSL's text) cannot forge lines. */
function oneLine(s: string): string {
  const flat = s.replace(/\s*\n\s*/g, " ").replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`).trim();
  return flat.length > MAX_REASON ? `${flat.slice(0, MAX_REASON)}...` : flat;
}

/**
 * Why a handshake failed: OpenSSL's reason ("peer did not return a certificate", "certificate has expired") and
 * Node's code. OpenSSL's full message also carries its error stack and source lines, which say nothing more.
 */
export function handshakeReason(err: Error & { code?: string; reason?: string }): string {
  const text = err.reason || err.message || "handshake failed";
  return oneLine(err.code && !text.includes(err.code) ? `${text} (${err.code})` : text);
}

/** The identity a certificate names (its SPIFFE URI, else its subject), for saying whose certificate was refused. */
export function presented(cert: PeerCertificate | undefined): string | undefined {
  const id = peerPrincipal(cert);
  return id === undefined ? undefined : oneLine(id);
}

export interface HandshakeFailure {
  /** "listener virtualInbound" or "cluster outbound|9080||reviews.default.svc.cluster.local". */
  where: string;
  direction: "from" | "to";
  /** ADDRESS:PORT of the other side. */
  peer: string;
  /** This proxy judged the peer's certificate (or its absence) and refused it; otherwise the handshake failed. */
  refused: boolean;
  /** The identity in the certificate the peer presented, when it presented one. */
  certificate?: string;
  reason: string;
}

const last = new WeakMap<object, { at: number; suppressed: number }>();

/**
 * Logs one handshake failure for `key` (a listener's filter chain, a cluster's connection pools) unless one was logged
 * for it less than a second ago, so a flood of bad handshakes cannot flood the log; those are counted into the next line.
 */
export function logHandshakeFailure(key: object, f: HandshakeFailure, now = Date.now()): void {
  const state = last.get(key) ?? { at: -Infinity, suppressed: 0 };
  last.set(key, state);
  if (now - state.at < INTERVAL_MS) {
    state.suppressed++;
    return;
  }
  const what = f.refused ? `refused TLS ${f.direction} ${f.peer}` : `TLS handshake ${f.direction} ${f.peer} failed`;
  const cert = f.certificate ? ` (certificate ${f.certificate})` : "";
  const more = state.suppressed ? ` (and ${state.suppressed} more failed handshakes here not logged since the last line)` : "";
  console.error(`trellis proxy: ${oneLine(f.where)}: ${what}${cert}: ${oneLine(f.reason)}${more}`);
  state.at = now;
  state.suppressed = 0;
}
