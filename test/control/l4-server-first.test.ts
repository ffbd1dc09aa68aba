// A translated TCP listener with destinationSubnets chains, run by the real proxy in front of a server-first
// protocol (the server greets before the client sends, as MySQL and SMTP do): choosing among chains that match only
// on addresses must not wait for the client's first bytes, or such a client and server would wait on each other.
import assert from "node:assert/strict";
import { connect, createServer, type Server } from "node:net";
import { after, before, test } from "node:test";
import type { IstioResource } from "../../src/api/resource.js";
import type { Workload } from "../../src/control/registry/registry.js";
import { translate } from "../../src/control/translate/translate.js";
import { proxy, staticCluster, type TestProxy } from "../proxy/harness.js";

const servers: Server[] = [];
let p: TestProxy;

const wl = (service: string, version: string, port: number, upstreams: Workload["upstreams"] = []): Workload => ({
  id: `${service}-${version}`, name: `${service}-${version}`, namespace: "default", service, labels: { app: service, version }, serviceAccount: service,
  address: "127.0.0.1", inboundPort: port, servicePorts: [{ port: 3306, name: "tcp", protocol: "TCP" }], appPort: port + 1, upstreams, ready: true, sidecar: true, mtls: false, interception: "NONE",
});

/** A server that greets with its name as soon as a client connects, then closes. */
async function greeter(name: string): Promise<number> {
  const server = createServer((s) => { s.on("error", () => {}); s.end(`${name} greets\n`); });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

/** Connects and only listens: what the server says first, or "timeout". */
function greeting(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let text = "";
    const timer = setTimeout(() => { s.destroy(); resolve("timeout"); }, 3_000);
    s.on("data", (d: Buffer) => (text += d));
    s.on("error", () => {});
    s.on("close", () => { clearTimeout(timer); resolve(text || "closed"); });
  });
}

before(async () => {
  const client = wl("app", "v1", 15300, [{ host: "db", port: 3306, localPort: 0 }]);
  const vs: IstioResource = { apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name: "db", namespace: "default" }, spec: { hosts: ["db"], tcp: [
    { match: [{ destinationSubnets: ["10.99.0.0/16"] }], route: [{ destination: { host: "db", subset: "v2" } }] },
    { match: [{ destinationSubnets: ["127.0.0.0/8"] }], route: [{ destination: { host: "db", subset: "v1" } }] },
  ] } };
  const dr: IstioResource = { apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "db", namespace: "default" }, spec: { host: "db", subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v2", labels: { version: "v2" } }] } };
  const out = translate({ resources: [vs, dr], workloads: [client, wl("db", "v1", 15301), wl("db", "v2", 15302)], proxy: client });
  const listener = out.listeners.find((l) => String(l.name).startsWith("outbound_127.0.0.1_"))!;
  assert.equal((listener.filter_chains as unknown[]).length, 3, "two subnet chains and the default");
  const ports = { v1: await greeter("v1"), v2: await greeter("v2"), default: await greeter("default") };
  p = await proxy([listener], [
    staticCluster("outbound|3306|v1|db.default.svc.cluster.local", [ports.v1]),
    staticCluster("outbound|3306|v2|db.default.svc.cluster.local", [ports.v2]),
    staticCluster("outbound|3306||db.default.svc.cluster.local", [ports.default]),
  ]);
});

after(async () => {
  await p?.stop();
  for (const s of servers) s.close();
});

test("the chain is chosen on the destination address at once: the server's greeting comes through unasked", async () => {
  // Explicit mode: the app dials the local listener, so 127.0.0.0/8 is the destination subnet that matches.
  assert.equal(await greeting(p.port()), "v1 greets\n");
});
