// Fresh mutual-TLS connections, each with one small request and no session resumption, at a fixed concurrency for a
// fixed time; prints how many completed. Run as a child process so its CPU is not the proxy's:
//   node dist/bench/lib/handshake-load.js '{"port":N,"concurrency":8,"durationMs":5000,"cert":..,"key":..,"ca":..}'
import { readFileSync } from "node:fs";
import { connect } from "node:tls";

interface Options { port: number; concurrency: number; durationMs: number; cert: string; key: string; ca: string }

const o = JSON.parse(process.argv[2]) as Options;
const material = { cert: readFileSync(o.cert), key: readFileSync(o.key), ca: readFileSync(o.ca) };
const end = Date.now() + o.durationMs;
let done = 0;
let errors = 0;

function one(): Promise<void> {
  return new Promise((resolve) => {
    // checkServerIdentity: the mesh checks SPIFFE IDs, not host names; the chain is still verified against the root.
    const s = connect({ host: "127.0.0.1", port: o.port, ...material, ALPNProtocols: ["http/1.1"], checkServerIdentity: () => undefined });
    let ok = false;
    s.on("secureConnect", () => s.write("GET / HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n"));
    s.on("data", (c: Buffer) => { if (c.toString("latin1", 0, 12).startsWith("HTTP/1.1 200")) ok = true; });
    s.on("error", () => {});
    s.on("close", () => { if (ok) done++; else errors++; resolve(); });
  });
}

async function worker(): Promise<void> {
  while (Date.now() < end) await one();
}

await Promise.all(Array.from({ length: o.concurrency }, worker));
console.log(JSON.stringify({ completed: done, errors, perSecond: done / (o.durationMs / 1000) }));
