// `npm run bench -- gateway`: TLS termination at the edge. One proxy per peer terminates HTTPS (a server certificate
// for server.mesh, clients on 4 keep-alive connections at a fixed 1,000 req/s) and forwards plain HTTP/1.1 to the
// backend: Trellis as a real gateway (an in-process control plane, `trellis gateway`, an Istio Gateway with SIMPLE
// TLS from a stored secret and a VirtualService), HAProxy and nginx configured the same. Figures: p99 from intended
// send time, and requests per CPU-second of the proxy process over the measured window.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/app/control-plane.js";
import { cpuSeconds, freePort, type Proc, start, waitForPort } from "./lib/processes.js";
import { meshCerts, type MeshCerts } from "./lib/mesh-certs.js";
import type { LoadResult } from "./lib/load-generator.js";
import { runLoadProcess } from "./scenarios/http1-latency.js";
import { printRatios, printTable, summarize } from "./scenarios/rounds.js";

interface Edge { name: string; available(): string | undefined; start(backendPort: number, certs: MeshCerts): Promise<{ port: number; pid: number; stop(): Promise<void> }> }

const installed = (bin: string) => () => { try { execFileSync(bin, ["-v"], { stdio: "ignore" }); return undefined; } catch { return `${bin} is not installed (run scripts/install-peers.sh)`; } };

const haproxyEdge: Edge = {
  name: "haproxy", available: installed("haproxy"),
  async start(backendPort, certs) {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-gw-haproxy-"));
    const port = await freePort();
    writeFileSync(join(dir, "edge.cfg"), `global\n  nbthread 1\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  option http-keep-alive\n  http-reuse always\nfrontend in\n  bind 127.0.0.1:${port} ssl crt ${certs.server.combined} alpn http/1.1\n  default_backend next\nbackend next\n  server s1 127.0.0.1:${backendPort}\n`);
    const proc = start("haproxy-edge", "haproxy", ["-db", "-f", join(dir, "edge.cfg")]);
    return running(proc, port);
  },
};

const nginxEdge: Edge = {
  name: "nginx", available: installed("nginx"),
  async start(backendPort, certs) {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-gw-nginx-"));
    const port = await freePort();
    const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${dir}/${t};`).join("\n");
    writeFileSync(join(dir, "nginx.conf"), `worker_processes 1;\ndaemon off;\nmaster_process off;\npid ${dir}/nginx.pid;\nerror_log stderr error;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n${temp}\n  upstream next { server 127.0.0.1:${backendPort}; keepalive 64; }\n  server {\n    listen 127.0.0.1:${port} ssl;\n    ssl_certificate ${certs.server.cert};\n    ssl_certificate_key ${certs.server.key};\n    keepalive_requests 100000;\n    location / { proxy_pass http://next; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }\n  }\n}\n`);
    const proc = start("nginx-edge", "nginx", ["-c", join(dir, "nginx.conf"), "-p", dir]);
    return running(proc, port);
  },
};

async function running(proc: Proc, port: number): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  try {
    await waitForPort(port);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { port, pid: proc.child.pid!, stop: () => proc.stop() };
}

/** The `trellis proxy` that `trellis gateway` runs (its only child). */
function proxyChild(pid: number): number {
  const children = readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean)).map(Number);
  if (children.length !== 1) throw new Error(`trellis gateway ${pid} has ${children.length} children, expected its proxy`);
  return children[0];
}

const trellisEdge: Edge = {
  name: "trellis", available: () => undefined,
  async start(backendPort, certs) {
    const state = mkdtempSync(join(tmpdir(), "trellis-bench-gw-"));
    const cp = new ControlPlane({ stateDir: state, xdsPort: 0, apiPort: 0, otlpPort: 0, traceSamplingPercent: 0, log: () => {} });
    await cp.start();
    const meta = (kind: string, name: string, namespace = "default") => ({ apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace } });
    cp.secretStore.put({ namespace: "istio-system", name: "edge-cert", certPem: readFileSync(certs.server.cert, "utf8"), keyPem: readFileSync(certs.server.key, "utf8") });
    cp.store.put({ ...meta("ServiceEntry", "backend"), spec: { hosts: ["backend.bench.test"], location: "MESH_EXTERNAL", resolution: "STATIC", endpoints: [{ address: "127.0.0.1" }], ports: [{ number: backendPort, name: "http", protocol: "HTTP" }] } });
    cp.store.put({ ...meta("Gateway", "edge"), spec: { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: [certs.server.dns], tls: { mode: "SIMPLE", credentialName: "edge-cert" } }] } });
    cp.store.put({ ...meta("VirtualService", "edge"), spec: { hosts: [certs.server.dns], gateways: ["edge"], http: [{ route: [{ destination: { host: "backend.bench.test", port: { number: backendPort } } }] }] } });
    const port = await freePort();
    const cli = start("trellis-gateway", process.execPath, ["dist/src/cli/main.js", "gateway", "--port", `443=${port}/HTTPS`, "--xds", `127.0.0.1:${cp.ports.xds}`, "--state-dir", state]);
    try {
      await waitForPort(port, 30_000);
    } catch (err) {
      await cli.stop();
      await cp.stop();
      throw err;
    }
    return { port, pid: proxyChild(cli.child.pid!), stop: async () => { await cli.stop(); await cp.stop(); } };
  },
};

interface Sample { load: LoadResult; perCpuSecond: number }

export async function gatewayScenario(rounds: number, durationMs: number, warmupMs: number): Promise<unknown> {
  const edges = [trellisEdge, haproxyEdge, nginxEdge].filter((e) => { const why = e.available(); if (why) console.log(`  skipping ${e.name}: ${why}`); return !why; });
  const certs = await meshCerts();
  const backendPort = await freePort();
  const backend = start("backend", process.execPath, ["dist/bench/lib/backend.js"], { PORT: String(backendPort) });
  try {
    await waitForPort(backendPort);
    const samples = new Map<string, Sample[]>(edges.map((e) => [e.name, []]));
    // Peers interleaved, the order rotated each round, as every side-by-side scenario runs them.
    for (let round = 0; round < rounds; round++) for (const peer of edges.map((_, i) => edges[(i + round) % edges.length])) samples.get(peer.name)!.push(await sample(peer, round));
    async function sample(peer: Edge, round: number): Promise<Sample> {
      const edge = await peer.start(backendPort, certs);
      try {
        let before = cpuSeconds(edge.pid);
        const load = await runLoadProcess({ host: "127.0.0.1", port: edge.port, path: "/", hostHeader: certs.server.dns, rate: 1000, connections: 4, durationMs, warmupMs, tls: { servername: certs.server.dns, caFile: certs.root } }, () => (before = cpuSeconds(edge.pid)));
        const cpu = cpuSeconds(edge.pid) - before;
        const perCpuSecond = load.completed / Math.max(cpu, 1e-3);
        console.log(`  round ${round + 1}/${rounds} ${peer.name.padEnd(8)} p50 ${load.p50.toFixed(3)} p99 ${load.p99.toFixed(3)} ms, ${load.achievedRate.toFixed(0)} req/s, ${perCpuSecond.toFixed(0)} req per CPU-second, errors ${load.errors + load.non2xx}`);
        return { load, perCpuSecond };
      } finally {
        await edge.stop();
      }
    }
    const summary = summarize(samples, { p50: (s) => s.load.p50, p99: (s) => s.load.p99, perCpuSecond: (s) => s.perCpuSecond, errors: (s) => s.load.errors + s.load.non2xx });
    printTable(summary, [{ figure: "p50", title: "p50 ms", digits: 3 }, { figure: "p99", title: "p99 ms", digits: 3 }, { figure: "perCpuSecond", title: "req per CPU-second", digits: 0 }, { figure: "errors", title: "errors", digits: 0 }]);
    const ratios = printRatios(summary, [{ figure: "p99", label: "p99" }, { figure: "perCpuSecond", label: "requests per CPU-second" }]);
    return { rounds, durationMs, rate: 1000, connections: 4, summary, ratios };
  } finally {
    await backend.stop();
  }
}
