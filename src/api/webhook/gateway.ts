// Istio's webhook rules for Gateway that its CRD schema does not express, after istio/istio pkg/config/validation
// ValidateGateway and validateServer: servers, ports, TLS settings per mode, unique port names.
import { serverTls } from "./server-tls.js";
import { arr, has, obj, Problems, type WebhookProblem } from "./problems.js";

const TLS_PROTOCOLS = new Set(["HTTPS", "TLS"]);
const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);
const PROTOCOLS = new Set([...TLS_PROTOCOLS, ...HTTP_PROTOCOLS, "TCP", "MONGO", "REDIS", "MYSQL", "UDP"]);

function server(p: Problems, s: Record<string, unknown>, at: string): void {
  if (arr(s.hosts).length === 0) p.error(`${at}.hosts`, "a server needs at least one host (\"*\" for any)", "TRL0012");
  const port = obj(s.port);
  const protocol = typeof port.protocol === "string" ? port.protocol.toUpperCase() : "";
  if (protocol && !PROTOCOLS.has(protocol)) p.error(`${at}.port.protocol`, `"${String(port.protocol)}" is not a protocol; use HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TLS, TCP, MONGO, REDIS or MYSQL`);
  if (!has(port.name)) p.error(`${at}.port.name`, "a server port needs a name", "TRL0012");
  if (typeof port.targetPort === "number" && port.targetPort > 0) p.error(`${at}.port.targetPort`, "has no effect on a Gateway; remove it");
  if (typeof s.bind === "string" && s.bind.startsWith("unix://") && typeof port.number === "number" && port.number !== 0) p.error(`${at}.port.number`, "must be 0 for a unix domain socket bind");
  const tls = s.tls === undefined ? undefined : obj(s.tls);
  if (TLS_PROTOCOLS.has(protocol) && !tls) p.error(`${at}.tls`, `an ${protocol} server needs tls settings (mode and certificates)`, "TRL0012");
  if (tls && protocol && !TLS_PROTOCOLS.has(protocol)) {
    // Istio lets a plain HTTP server carry a passthrough tls block without certificates (for httpsRedirect).
    const passthrough = (tls.mode === undefined || tls.mode === "PASSTHROUGH") && !["caCertificates", "privateKey", "serverCertificate"].some((k) => has(tls[k]));
    const redirectOnly = HTTP_PROTOCOLS.has(protocol) && passthrough;
    if (!redirectOnly) p.error(`${at}.tls`, `a plain ${protocol} server takes no tls settings other than httpsRedirect`, "TRL0019");
  }
  if (tls) serverTls(p, tls, `${at}.tls`);
}

export function gatewayProblems(spec: unknown): WebhookProblem[] {
  const p = new Problems();
  const servers = arr(obj(spec).servers).map(obj);
  if (servers.length === 0) p.error("spec.servers", "a Gateway needs at least one server", "TRL0012");
  const names = new Map<string, number>();
  servers.forEach((s, i) => {
    server(p, s, `spec.servers[${i}]`);
    const name = obj(s.port).name;
    if (typeof name !== "string") return;
    if (names.has(name)) p.error(`spec.servers[${i}].port.name`, `port name "${name}" is already used by spec.servers[${names.get(name)}]; port names must be unique`);
    else names.set(name, i);
  });
  return p.list;
}
