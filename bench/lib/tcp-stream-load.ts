// One TCP stream through an echo: writes 64 KB chunks as fast as the connection takes them (backpressure, no
// unbounded buffering) and counts the bytes that come back in the measured window and in all; prints JSON. Run as a child
// process so its CPU is not the proxies':  node dist/bench/lib/tcp-stream-load.js '{"port":N,"durationMs":3000,"warmupMs":500}'
import { connect } from "node:net";

interface Options { port: number; durationMs: number; warmupMs: number }

const o = JSON.parse(process.argv[2]) as Options;
const chunk = Buffer.alloc(64 * 1024, "x");
const socket = connect({ host: "127.0.0.1", port: o.port, noDelay: true });
let measuring = false;
let echoed = 0;
let total = 0;
let stopped = false;

socket.on("data", (d: Buffer) => {
  total += d.length;
  if (measuring) echoed += d.length;
});
socket.on("error", (err) => {
  console.error(`tcp stream to ${o.port}: ${err.message}`);
  process.exit(1);
});
socket.on("connect", () => {
  const pump = () => {
    while (!stopped && socket.write(chunk));
  };
  socket.on("drain", pump);
  pump();
  setTimeout(() => { measuring = true; }, o.warmupMs);
  setTimeout(() => {
    measuring = false;
    stopped = true;
    const seconds = o.durationMs / 1000;
    console.log(JSON.stringify({ bytes: echoed, totalBytes: total, megabytesPerSecond: echoed / 1e6 / seconds }));
    socket.destroy();
  }, o.warmupMs + o.durationMs);
});
