// Istio's webhook rules for Sidecar that its CRD schema does not express, after istio/istio pkg/config/validation
// ValidateSidecar: an empty Sidecar, ingress listeners (ports, default endpoints, TLS), egress listeners (the
// port-less catch-all last, unique ports, hosts).
import { serverTls } from "./server-tls.js";
import { arr, has, obj, Problems, type WebhookProblem } from "./problems.js";

const LOCAL_HOSTS = new Set(["127.0.0.1", "0.0.0.0", "[::1]", "[::]"]);

function ingress(p: Problems, l: Record<string, unknown>, at: string, ports: Set<unknown>): void {
  const port = l.port === undefined ? undefined : obj(l.port);
  if (!port) return p.error(`${at}.port`, "an ingress listener needs a port", "TRL0012");
  if (typeof port.targetPort === "number" && port.targetPort > 0) p.error(`${at}.port.targetPort`, "has no effect on a Sidecar; remove it");
  if (ports.has(port.number)) p.error(`${at}.port.number`, `port ${String(port.number)} is already an ingress listener; ports must be unique`);
  ports.add(port.number);
  const endpoint = l.defaultEndpoint;
  if (typeof endpoint === "string" && endpoint !== "" && !endpoint.startsWith("unix://")) {
    const colon = endpoint.lastIndexOf(":");
    const [host, portText] = [endpoint.slice(0, colon), endpoint.slice(colon + 1)];
    const n = Number(portText);
    if (colon < 0 || (host !== "" && !LOCAL_HOSTS.has(host)) || !/^\d+$/.test(portText) || n < 1 || n > 65535) {
      p.error(`${at}.defaultEndpoint`, `"${endpoint}" must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path`);
    }
  }
  if (l.tls !== undefined) {
    const tls = obj(l.tls);
    for (const f of ["subjectAltNames", "httpsRedirect", "credentialName", "credentialNames", "tlsCertificates"]) if (has(tls[f])) p.error(`${at}.tls.${f}`, "is not supported for a Sidecar's ingress TLS");
    if (tls.mode === "ISTIO_MUTUAL" || tls.mode === "AUTO_PASSTHROUGH") p.error(`${at}.tls.mode`, `${String(tls.mode)} cannot be used for a Sidecar's ingress TLS`);
    if (!["HTTPS", "TLS"].includes(String(port.protocol).toUpperCase())) p.error(`${at}.tls`, "TLS settings need an HTTPS or TLS port", "TRL0019");
    serverTls(p, tls, `${at}.tls`);
  }
}

function egress(p: Problems, list: Array<Record<string, unknown>>, ports: Set<unknown>): void {
  let catchAll = false;
  list.forEach((l, i) => {
    const at = `spec.egress[${i}]`;
    if (l.port === undefined) {
      if (catchAll) p.error(`${at}.port`, "only one egress listener may have no port");
      else if (i !== list.length - 1) p.error(`${at}.port`, "the egress listener without a port catches everything else, so it must be the last one");
      catchAll = true;
    } else {
      const port = obj(l.port);
      if (typeof port.targetPort === "number" && port.targetPort > 0) p.error(`${at}.port.targetPort`, "has no effect on a Sidecar; remove it");
      if (port.number !== 0 && ports.has(port.number)) p.error(`${at}.port.number`, `port ${String(port.number)} is already an egress listener; ports must be unique`);
      ports.add(port.number);
    }
    if (arr(l.hosts).length === 0) p.error(`${at}.hosts`, "an egress listener needs at least one host (\"./*\" for its own namespace)", "TRL0012");
  });
}

export function sidecarProblems(spec: unknown): WebhookProblem[] {
  const p = new Problems();
  const s = obj(spec);
  if (!arr(s.egress).length && !arr(s.ingress).length && s.outboundTrafficPolicy === undefined && s.inboundConnectionPool === undefined) {
    p.error("spec", "an empty Sidecar changes nothing; give it egress, ingress, outboundTrafficPolicy or inboundConnectionPool", "TRL0012");
  }
  const selector = s.workloadSelector === undefined ? undefined : obj(obj(s.workloadSelector).labels);
  if (selector && Object.keys(selector).length === 0) p.warn("spec.workloadSelector", "has no labels, so this Sidecar applies to every workload of its namespace");
  const ingressPorts = new Set<unknown>();
  arr(s.ingress).forEach((l, i) => ingress(p, obj(l), `spec.ingress[${i}]`, ingressPorts));
  egress(p, arr(s.egress).map(obj), new Set());
  return p.list;
}
