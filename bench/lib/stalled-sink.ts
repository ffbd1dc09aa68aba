// telemetry-cost's stalled collector: accepts connections and reads nothing back, never answering, as a collector
// that hangs does; the exporter must time out, drop and count spans, and keep its memory bounded.
import { createServer, type Socket } from "node:net";

const held = new Set<Socket>();
const server = createServer((s) => {
  held.add(s);
  s.on("close", () => held.delete(s));
  s.on("error", () => held.delete(s));
  s.pause();
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => process.stdout.write("listening\n"));
process.on("SIGTERM", () => {
  for (const s of held) s.destroy();
  server.close(() => process.exit(0));
});
