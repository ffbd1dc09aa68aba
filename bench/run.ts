// `npm run bench [-- NAME ...]`: runs the benchmark scenarios, interleaving peers (A, B, A, B, ...) within one run,
// prints one table with medians (min–max) and ratios against the peers, and writes bench/results/NAME-TIME.json.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { machine } from "./lib/machine.js";
import { start, waitForPort, freePort } from "./lib/processes.js";
import { fmt, spread } from "./lib/stats.js";
import { direct, type Peer } from "./peers/chain.js";
import { haproxy } from "./peers/haproxy.js";
import { nginx } from "./peers/nginx.js";
import { trellis, trellisPeer } from "./peers/trellis.js";
import { type HopSample, runNode, sampleHop } from "./scenarios/http1-latency.js";
import { meshCerts } from "./lib/mesh-certs.js";
import { cpuSeconds } from "./lib/processes.js";
import { describeRuntime } from "./lib/proxy-runtime.js";
import { loadavg } from "node:os";
import { http1ThroughputScenario } from "./scenarios/http1-throughput.js";
import { h2GrpcScenario } from "./scenarios/h2-grpc.js";
import { tcpThroughputScenario } from "./scenarios/tcp-throughput.js";
import { idleMemoryScenario } from "./scenarios/idle-memory.js";
import { cpPushScenario } from "./scenarios/cp-push.js";
import { cpScaleScenario } from "./scenarios/cp-scale.js";
import { cpGrowthScenario } from "./scenarios/cp-growth.js";
import { cpCertsScenario } from "./scenarios/cp-certs.js";
import { gatewayScenario } from "./gateway-scenario.js";
import { kubePushScenario } from "./scenarios/kube-push.js";
import { proxyAllocScenario } from "./scenarios/proxy-alloc.js";
import { cpHaScenario } from "./scenarios/cp-ha.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
// Long enough for a Node proxy to have compiled its hot path (its first seconds cost about 1.5x the CPU after).
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 3000);

interface Scenario {
  name: string;
  describe: string;
  run(): Promise<unknown>;
}

async function withBackend<T>(fn: (port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const backend = start("backend", process.execPath, ["dist/bench/lib/backend.js"], { PORT: String(port) });
  try {
    await waitForPort(port);
    return await fn(port);
  } finally {
    await backend.stop();
  }
}

async function latencyScenario(): Promise<unknown> {
  return compare([direct, trellis, haproxy, nginx], ["haproxy", "nginx"]);
}

/** The Collector for telemetry-cost's collector path, when scripts/install-otel.sh has built it (or can). */
function otelcolBinary(): string | undefined {
  try {
    const bin = execFileSync("bash", ["scripts/install-otel.sh"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
    return join(bin, "otelcol");
  } catch {
    return undefined;
  }
}

/**
 * What telemetry costs a hop: the same Trellis chain bare, with Istio's metrics, tracing every request (OTLP/HTTP,
 * OTLP/gRPC, Zipkin JSON v2, and OTLP/gRPC into a real OpenTelemetry Collector), an access log, and all three; and
 * tracing into a collector that accepts connections and never answers (its RSS column is the exporter's memory
 * under a stalled collector: the queue is bounded, spans are dropped and counted).
 */
async function telemetryScenario(): Promise<unknown> {
  const [sinkPort, grpcSinkPort, stalledPort, colGrpc, colHttp] = await Promise.all(Array.from({ length: 5 }, freePort));
  // The HTTP sink is the bench backend: it accepts any POST and answers, which is all an OTLP/HTTP or Zipkin exporter needs.
  const sinks = [
    start("otlp-sink", process.execPath, ["dist/bench/lib/backend.js"], { PORT: String(sinkPort) }),
    start("otlp-grpc-sink", process.execPath, ["dist/bench/lib/otlp-grpc-sink.js"], { PORT: String(grpcSinkPort) }),
    start("stalled-sink", process.execPath, ["dist/bench/lib/stalled-sink.js"], { PORT: String(stalledPort) }),
  ];
  const otelcol = otelcolBinary();
  const dir = mkdtempSync(join(tmpdir(), "trellis-bench-otelcol-"));
  if (otelcol) {
    writeFileSync(join(dir, "config.yaml"), `receivers: { otlp: { protocols: { grpc: { endpoint: "127.0.0.1:${colGrpc}" }, http: { endpoint: "127.0.0.1:${colHttp}" } } } }
processors: { batch: {} }
exporters: { otlp: { endpoint: "127.0.0.1:${grpcSinkPort}", tls: { insecure: true } } }
service:
  pipelines: { traces: { receivers: [otlp], processors: [batch], exporters: [otlp] } }
  telemetry: { metrics: { level: none }, logs: { level: warn } }
`);
    sinks.push(start("otelcol", otelcol, ["--config", join(dir, "config.yaml")]));
  } else console.log("  skipping collector: scripts/install-otel.sh could not build the OpenTelemetry Collector");
  try {
    for (const port of [sinkPort, grpcSinkPort, stalledPort, ...(otelcol ? [colGrpc] : [])]) await waitForPort(port);
    return await compare([
      direct,
      trellisPeer("bare"),
      trellisPeer("metrics", { metrics: true }),
      trellisPeer("tracing", { tracingSinkPort: sinkPort }),
      trellisPeer("otlp-grpc", { tracingSinkPort: grpcSinkPort, tracer: "otlp-grpc" }),
      trellisPeer("zipkin", { tracingSinkPort: sinkPort, tracer: "zipkin" }),
      ...(otelcol ? [trellisPeer("collector", { tracingSinkPort: colGrpc, tracer: "otlp-grpc" })] : []),
      trellisPeer("stalled", { tracingSinkPort: stalledPort }),
      trellisPeer("log", { accessLog: true }),
      trellisPeer("all", { metrics: true, tracingSinkPort: sinkPort, accessLog: true }),
    ], [], "bare");
  } finally {
    await Promise.all(sinks.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same hop with mutual TLS between the two proxies of every chain (Trellis as Istio's sidecars set it up). */
async function mtlsLatencyScenario(): Promise<unknown> {
  return compare([direct, trellis, haproxy, nginx], ["haproxy", "nginx"], "trellis", true);
}

/**
 * New mutual-TLS connections per second one server-side proxy accepts (handshake + one request each, no resumption),
 * with that proxy's CPU per 1,000 handshakes. The client is one Node process on the same 2 cores: where it saturates
 * first, the figure is the client's limit, which is why the CPU column matters more than the rate.
 */
async function handshakeScenario(): Promise<unknown> {
  const peers = [trellis, haproxy, nginx].filter((p) => !p.available());
  const certs = await meshCerts();
  const rows = new Map<string, Array<{ perSecond: number; cpuPer1000: number; errors: number }>>(peers.map((p) => [p.name, []]));
  await withBackend(async (backendPort) => {
    for (let round = 0; round < ROUNDS; round++) {
      for (const peer of peers.map((_, i) => peers[(i + round) % peers.length])) {
        const chain = await peer.startChain(backendPort, { tls: true });
        try {
          const pid = chain.procs[0].child.pid!;
          const before = cpuSeconds(pid);
          const out = await runNode("dist/bench/lib/handshake-load.js", { port: chain.serverPort, concurrency: 8, durationMs: DURATION_MS, cert: certs.client.cert, key: certs.client.key, ca: certs.root }) as { completed: number; errors: number; perSecond: number };
          const cpu = cpuSeconds(pid) - before;
          rows.get(peer.name)!.push({ perSecond: out.perSecond, cpuPer1000: (cpu / Math.max(1, out.completed)) * 1000, errors: out.errors });
          console.log(`  round ${round + 1}/${ROUNDS} ${peer.name.padEnd(8)} ${out.perSecond.toFixed(0)} handshakes/s, ${((cpu / Math.max(1, out.completed)) * 1000).toFixed(3)} CPU s/1000, errors ${out.errors}`);
        } finally {
          await chain.stop();
        }
      }
    }
  });
  const summary = Object.fromEntries([...rows].map(([name, list]) => [name, { perSecond: spread(list.map((r) => r.perSecond)), cpuPer1000: spread(list.map((r) => r.cpuPer1000)) }]));
  console.log("\n  peer      handshakes/s        CPU s/1000 handshakes");
  for (const [name, s] of Object.entries(summary)) console.log(`  ${name.padEnd(9)} ${fmt(s.perSecond, 0).padEnd(19)} ${fmt(s.cpuPer1000, 3)}`);
  for (const peer of ["haproxy", "nginx"]) {
    if (summary.trellis && summary[peer]) console.log(`  CPU per handshake trellis/${peer}: ${(summary.trellis.cpuPer1000.median / summary[peer].cpuPer1000.median).toFixed(2)}x`);
  }
  return { rounds: ROUNDS, durationMs: DURATION_MS, concurrency: 8, summary };
}

async function compare(candidates: Peer[], rivals: string[], against = "trellis", tls = false): Promise<unknown> {
  const peers: Peer[] = [];
  for (const p of candidates) {
    const why = p.available();
    if (why) console.log(`  skipping ${p.name}: ${why}`);
    else peers.push(p);
  }
  const samples = new Map<string, HopSample[]>(peers.map((p) => [p.name, []]));
  await withBackend(async (backendPort) => {
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no peer always runs first on a cold machine.
      const order = peers.map((_, i) => peers[(i + round) % peers.length]);
      for (const peer of order) {
        const s = await sampleHop(peer, backendPort, { rate: 1000, connections: 4, durationMs: DURATION_MS, warmupMs: WARMUP_MS }, tls);
        samples.get(peer.name)!.push(s);
        console.log(`  round ${round + 1}/${ROUNDS} ${peer.name.padEnd(8)} p50 ${s.load.p50.toFixed(3)} p90 ${s.load.p90.toFixed(3)} p99 ${s.load.p99.toFixed(3)} p99.9 ${s.load.p999.toFixed(3)} max ${s.load.max.toFixed(1)} ms, ${s.load.achievedRate.toFixed(0)} req/s, errors ${s.load.errors + s.load.non2xx}, load avg ${loadavg()[0].toFixed(1)}`);
        if (s.runtime) console.log(`      ${describeRuntime(s.runtime)}`);
      }
    }
  });
  const summary: Record<string, Record<string, ReturnType<typeof spread>>> = {};
  for (const [name, list] of samples) {
    summary[name] = {
      p50: spread(list.map((s) => s.load.p50)),
      p90: spread(list.map((s) => s.load.p90)),
      p99: spread(list.map((s) => s.load.p99)),
      p999: spread(list.map((s) => s.load.p999)),
      cpuPer1000: spread(list.map((s) => s.cpuPer1000)),
      rssMiB: spread(list.map((s) => s.rssMiB)),
    };
  }
  const base = summary.direct;
  console.log("\n  peer      p50 ms              p90 ms              p99 ms              p99.9 ms            added p99 (2 hops)  added p99.9         CPU s/1000 req      RSS MiB (2 procs)");
  for (const [name, s] of Object.entries(summary)) {
    const added = base ? s.p99.median - base.p99.median : NaN;
    const added999 = base ? s.p999.median - base.p999.median : NaN;
    console.log(`  ${name.padEnd(9)} ${fmt(s.p50, 3).padEnd(19)} ${fmt(s.p90, 3).padEnd(19)} ${fmt(s.p99, 3).padEnd(19)} ${fmt(s.p999, 3).padEnd(19)} ${added.toFixed(3).padEnd(19)} ${added999.toFixed(3).padEnd(19)} ${fmt(s.cpuPer1000, 3).padEnd(18)} ${fmt(s.rssMiB, 1)}`);
  }
  if (summary[against] && base) {
    const t = summary[against].p99.median - base.p99.median;
    for (const peer of rivals) {
      if (!summary[peer]) continue;
      const p = summary[peer].p99.median - base.p99.median;
      console.log(`  added p99 latency ${against}/${peer}: ${(t / p).toFixed(2)}x; CPU per request ${against}/${peer}: ${(summary[against].cpuPer1000.median / summary[peer].cpuPer1000.median).toFixed(2)}x`);
    }
    // Variants of the same proxy: how much each feature adds over the bare one.
    for (const [name, s] of Object.entries(summary)) {
      if (rivals.length || name === against || name === "direct") continue;
      console.log(`  ${name} vs ${against}: added p99 ${(s.p99.median - base.p99.median).toFixed(3)} vs ${t.toFixed(3)} ms; CPU per request ${(s.cpuPer1000.median / summary[against].cpuPer1000.median).toFixed(2)}x`);
    }
  }
  return { rounds: ROUNDS, durationMs: DURATION_MS, rate: 1000, connections: 4, summary, samples: Object.fromEntries(samples) };
}

const scenarios: Scenario[] = [
  { name: "http1-latency", describe: "HTTP/1.1 1 KB at 1,000 req/s, 4 connections, two chained proxies per peer", run: latencyScenario },
  { name: "http1-mtls-latency", describe: "the http1-latency hop with mutual TLS between the two proxies of every chain", run: mtlsLatencyScenario },
  { name: "tls-handshakes", describe: "new mutual-TLS connections per second into one server-side proxy (one request each, no resumption)", run: handshakeScenario },
  { name: "http1-throughput", describe: "the most HTTP/1.1 1 KB requests/s one proxy process serves on one core (closed loop, 64 connections)", run: http1ThroughputScenario },
  { name: "h2-grpc", describe: "HTTP/2 (h2c) and gRPC unary, 1 KB, at 1,000 req/s over 4 connections through two chained proxies per peer (h2load)", run: h2GrpcScenario },
  { name: "tcp-throughput", describe: "one TCP echo stream's MB/s through two chained L4 proxies per peer, proxy CPU per GB", run: tcpThroughputScenario },
  { name: "idle-memory", describe: "resident memory of one proxy process per peer, idle after start and at 1,000 req/s; a Trellis sidecar with a Bookinfo-sized config", run: idleMemoryScenario },
  { name: "cp-push", describe: "a VirtualService change from the REST write until 100 simulated sidecars (real ADS) ACKed it, at 10 and 100 services (1,000: cp-scale)", run: cpPushScenario },
  { name: "cp-scale", describe: "control-plane RSS and CPU at 1,000 services and 10,000 endpoints with 100 simulated sidecars, idle and during a push", run: cpScaleScenario },
  { name: "cp-growth", describe: "the control plane's push work (planning, translation, encoding; no gRPC) at 1,000 and 5,000 services with 100 and 1,000 sidecars, each size in its own process", run: cpGrowthScenario },
  { name: "cp-certs", describe: "certificates the CA signs per second (real CSRs over its gRPC API, 8 connections) and its CPU per 1,000", run: cpCertsScenario },
  { name: "gateway", describe: "TLS termination at the edge: HTTPS 1 KB at 1,000 req/s over 4 keep-alive connections into one gateway proxy per peer, plain HTTP/1.1 to the backend", run: () => gatewayScenario(ROUNDS, DURATION_MS, WARMUP_MS) },
  { name: "cp-ha", describe: "replicas on etcd: a VirtualService change until 100 sidecars over three replicas ACKed it, against one control plane on the file store; failover time of a killed replica's sidecars", run: cpHaScenario },
  { name: "kube-push", describe: "Kubernetes mode: 1,000 Services and 10,000 endpoints through the real API server, 100 ADS sidecars; a VirtualService write to the API server until the 100th ACK, control memory, API server CPU", run: kubePushScenario },
  { name: "proxy-alloc", describe: "what one Trellis proxy allocates per HTTP/1.1 request (in-process, 1 MiB young generation): scavenges per 1,000 requests, KiB per request, top allocation sites, CPU per request", run: proxyAllocScenario },
  { name: "telemetry-cost", describe: "the http1-latency hop through Trellis bare, with Istio metrics, 100% tracing (OTLP/HTTP, OTLP/gRPC, Zipkin, the Collector, a stalled collector), an access log, and all three", run: telemetryScenario },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !scenarios.some((s) => s.name === w));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(", ")}; scenarios: ${scenarios.map((s) => s.name).join(", ")}`);
  process.exit(2);
}
const info = machine();
console.log(`machine: ${info.cores} cores (${info.cpuModel}), ${info.memoryGiB} GiB, node ${info.node}, kernel ${info.kernel}; haproxy ${info.peers.haproxy ?? "-"}, nginx ${info.peers.nginx ?? "-"}`);
mkdirSync("bench/results", { recursive: true });
for (const s of scenarios.filter((s) => wanted.length === 0 || wanted.includes(s.name))) {
  console.log(`\n${s.name}: ${s.describe}`);
  const result = await s.run();
  const file = join("bench/results", `${s.name}-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify({ scenario: s.name, machine: info, at: new Date().toISOString(), result }, null, 2));
  console.log(`  written to ${file}`);
}
