// Istio's webhook rules for DestinationRule that its CRD schema does not express, after istio/istio
// pkg/config/validation ValidateDestinationRule: traffic policies (outlier detection, connection pool, load balancer,
// client TLS, tunnel), subsets and exportTo.
import { arr, DNS1123_LABEL, exportToProblems, has, isPrime, obj, Problems, type WebhookProblem } from "./problems.js";

const POLICY_FIELDS = ["outlierDetection", "connectionPool", "loadBalancer", "tls", "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget"];

function outlier(p: Problems, od: Record<string, unknown>, at: string): void {
  p.duration(`${at}.baseEjectionTime`, od.baseEjectionTime);
  p.duration(`${at}.interval`, od.interval);
  if (has(od.consecutiveErrors)) p.warn(`${at}.consecutiveErrors`, "is deprecated; use consecutive5xxErrors or consecutiveGatewayErrors");
  if (typeof od.consecutiveLocalOriginFailures === "number" && od.consecutiveLocalOriginFailures > 0 && od.splitExternalLocalOriginErrors !== true) {
    p.error(`${at}.consecutiveLocalOriginFailures`, "counts only when splitExternalLocalOriginErrors is true; set it or drop this field", "TRL0019");
  }
  p.percent(`${at}.maxEjectionPercent`, od.maxEjectionPercent);
  p.percent(`${at}.minHealthPercent`, od.minHealthPercent);
}

function connectionPool(p: Problems, cp: Record<string, unknown>, at: string): void {
  if (!has(cp.http) && !has(cp.tcp)) return p.error(at, "a connection pool needs http or tcp settings; remove it or fill it in");
  const http = obj(cp.http);
  for (const k of ["http1MaxPendingRequests", "http2MaxRequests", "maxRequestsPerConnection", "maxRetries", "maxConcurrentStreams"]) p.nonNegative(`${at}.http.${k}`, http[k]);
  p.duration(`${at}.http.idleTimeout`, http.idleTimeout);
  if (http.h2UpgradePolicy === "UPGRADE" && http.useClientProtocol === true) p.error(`${at}.http.useClientProtocol`, "cannot be true with h2UpgradePolicy UPGRADE", "TRL0019");
  if (http.http2KeepAlive !== undefined) {
    const ka = obj(http.http2KeepAlive);
    for (const k of ["interval", "timeout"]) {
      if (ka[k] === undefined) p.error(`${at}.http.http2KeepAlive.${k}`, `is required in http2KeepAlive`, "TRL0012");
      else p.duration(`${at}.http.http2KeepAlive.${k}`, ka[k]);
    }
  }
  const tcp = obj(cp.tcp);
  p.nonNegative(`${at}.tcp.maxConnections`, tcp.maxConnections);
  p.duration(`${at}.tcp.connectTimeout`, tcp.connectTimeout);
  p.duration(`${at}.tcp.maxConnectionDuration`, tcp.maxConnectionDuration);
  // 0s turns the idle timeout off, so Istio lets it through.
  if (tcp.idleTimeout !== "0s" && tcp.idleTimeout !== "0") p.duration(`${at}.tcp.idleTimeout`, tcp.idleTimeout);
  p.duration(`${at}.tcp.tcpKeepalive.time`, obj(tcp.tcpKeepalive).time);
  p.duration(`${at}.tcp.tcpKeepalive.interval`, obj(tcp.tcpKeepalive).interval);
}

function loadBalancer(p: Problems, lb: Record<string, unknown>, at: string): void {
  const ch = obj(lb.consistentHash);
  const cookie = ch.httpCookie === undefined ? undefined : obj(ch.httpCookie);
  if (cookie && !has(cookie.name)) p.error(`${at}.consistentHash.httpCookie.name`, "a hash cookie needs a name", "TRL0012");
  const names = new Set<string>();
  arr(cookie?.attributes).forEach((a, i) => {
    const name = obj(a).name;
    if (!has(name)) p.error(`${at}.consistentHash.httpCookie.attributes[${i}].name`, "a cookie attribute needs a name", "TRL0012");
    else if (names.has(String(name))) p.error(`${at}.consistentHash.httpCookie.attributes[${i}].name`, `attribute "${String(name)}" is listed twice`);
    else names.add(String(name));
  });
  if (has(ch.minimumRingSize)) {
    p.warn(`${at}.consistentHash.minimumRingSize`, "is deprecated; use consistentHash.ringHash.minimumRingSize");
    if (has(ch.ringHash) || has(ch.maglev)) p.error(`${at}.consistentHash.minimumRingSize`, "cannot be set with ringHash or maglev; set the ring size inside the chosen algorithm", "TRL0019");
  }
  if (ch.maglev !== undefined) {
    const size = obj(ch.maglev).tableSize;
    const where = `${at}.consistentHash.maglev.tableSize`;
    if (typeof size !== "number" || size === 0) p.error(where, "Maglev needs a tableSize (a prime such as 65537)", "TRL0012");
    else if (size >= 5000011) p.error(where, `${size} is too large; Maglev's table must be smaller than 5000011`);
    else if (!isPrime(size)) p.error(where, `${size} is not a prime number; Maglev needs a prime table size (e.g. 65537)`);
  }
  if (has(lb.localityLbSetting) && has(lb.zoneAwareLbSetting)) p.error(`${at}.zoneAwareLbSetting`, "cannot be set with localityLbSetting; choose one", "TRL0019");
  if (lb.warmup !== undefined) {
    const w = obj(lb.warmup);
    if (w.duration === undefined) p.error(`${at}.warmup.duration`, "warmup needs a duration", "TRL0012");
    else p.duration(`${at}.warmup.duration`, w.duration);
    if (typeof w.minimumPercent === "number" && w.minimumPercent > 100) p.error(`${at}.warmup.minimumPercent`, `${w.minimumPercent} is above 100`);
    if (typeof w.aggression === "number" && w.aggression <= 0) p.error(`${at}.warmup.aggression`, "must be greater than 0");
  }
}

/** Istio's agent.ValidateTLS for the client side. */
export function clientTls(p: Problems, tls: Record<string, unknown>, at: string): void {
  const skip = tls.insecureSkipVerify === true;
  if (skip && tls.mode === "SIMPLE" && (has(tls.caCertificates) || has(tls.credentialName) || tls.subjectAltNames !== undefined)) {
    p.error(`${at}.insecureSkipVerify`, "skips verification, so caCertificates, credentialName and subjectAltNames cannot be set with it", "TRL0019");
  }
  if (skip && tls.mode === "MUTUAL" && (has(tls.caCertificates) || tls.subjectAltNames !== undefined)) {
    p.error(`${at}.insecureSkipVerify`, "skips verification, so caCertificates and subjectAltNames cannot be set with it", "TRL0019");
  }
  if ((tls.mode === "SIMPLE" || tls.mode === "MUTUAL") && has(tls.credentialName)) {
    if (has(tls.clientCertificate) || has(tls.caCertificates) || has(tls.privateKey) || has(tls.caCrl)) {
      p.error(`${at}.credentialName`, "brings the certificates, so clientCertificate, privateKey, caCertificates and caCrl cannot be set with it", "TRL0019");
    }
    return;
  }
  if (tls.mode === "MUTUAL") {
    if (!has(tls.clientCertificate)) p.error(`${at}.clientCertificate`, "mutual TLS needs a client certificate (or a credentialName)", "TRL0012");
    if (!has(tls.privateKey)) p.error(`${at}.privateKey`, "mutual TLS needs a private key (or a credentialName)", "TRL0012");
  }
}

function tunnel(p: Problems, t: Record<string, unknown>, at: string): void {
  if (has(t.protocol) && t.protocol !== "CONNECT" && t.protocol !== "POST") p.error(`${at}.protocol`, `"${String(t.protocol)}" is not a tunnel protocol; use CONNECT or POST`);
  const host = t.targetHost;
  if (typeof host !== "string" || !/^([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/.test(host) && !/^[0-9a-fA-F:.]+$/.test(host)) {
    p.error(`${at}.targetHost`, "must be a host name or an IP address");
  }
  if (typeof t.targetPort !== "number" || t.targetPort < 1 || t.targetPort > 65535) p.error(`${at}.targetPort`, "must be a port, 1-65535", "TRL0018");
}

function trafficPolicy(p: Problems, raw: unknown, at: string, portLevel = false): void {
  const tp = obj(raw);
  const fields = portLevel ? ["outlierDetection", "connectionPool", "loadBalancer", "tls"] : POLICY_FIELDS;
  if (!fields.some((f) => tp[f] !== undefined)) return p.error(at, `a ${portLevel ? "port-level " : ""}traffic policy needs at least one of ${fields.join(", ")}; remove it or fill it in`, "TRL0012");
  if (tp.tunnel !== undefined && tp.proxyProtocol !== undefined) p.error(`${at}.tunnel`, "cannot be set with proxyProtocol", "TRL0019");
  if (tp.outlierDetection !== undefined) outlier(p, obj(tp.outlierDetection), `${at}.outlierDetection`);
  if (tp.connectionPool !== undefined) connectionPool(p, obj(tp.connectionPool), `${at}.connectionPool`);
  if (tp.loadBalancer !== undefined) loadBalancer(p, obj(tp.loadBalancer), `${at}.loadBalancer`);
  if (tp.tls !== undefined) clientTls(p, obj(tp.tls), `${at}.tls`);
  if (tp.tunnel !== undefined) tunnel(p, obj(tp.tunnel), `${at}.tunnel`);
  if (portLevel) return;
  arr(tp.portLevelSettings).forEach((pls, i) => {
    const where = `${at}.portLevelSettings[${i}]`;
    if (obj(pls).port === undefined) p.error(`${where}.port`, "a port-level policy needs its port", "TRL0012");
    trafficPolicy(p, pls, where, true);
  });
}

export function destinationRuleProblems(spec: unknown, namespace: string): WebhookProblem[] {
  const p = new Problems();
  const s = obj(spec);
  if (s.trafficPolicy !== undefined) trafficPolicy(p, s.trafficPolicy, "spec.trafficPolicy");
  arr(s.subsets).forEach((raw, i) => {
    const subset = obj(raw);
    if (typeof subset.name === "string" && !DNS1123_LABEL.test(subset.name)) p.error(`spec.subsets[${i}].name`, `"${subset.name}" is not a valid subset name: lower-case letters, digits and '-' (a DNS label)`);
    if (subset.trafficPolicy !== undefined) trafficPolicy(p, subset.trafficPolicy, `spec.subsets[${i}].trafficPolicy`);
  });
  exportToProblems(p, s.exportTo, namespace, { allowNone: false, selectorScoped: s.workloadSelector !== undefined });
  return p.list;
}
