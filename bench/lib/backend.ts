// The benchmark's upstream: an HTTP/1.1 server answering every request with a fixed body (1 KB by default).
import { createServer } from "node:http";

const size = Number(process.env.BODY_BYTES ?? 1024);
const body = Buffer.alloc(size, "x");
const server = createServer((req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === "object" && addr ? addr.port : 0}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
