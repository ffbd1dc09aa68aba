// The HTTP/2 scenario's upstream: an HTTP/2 server without TLS (h2c, prior knowledge) answering every request with a
// fixed body (1 KB by default). Peers that speak only HTTP/1.1 upstream (nginx) get backend.ts, its HTTP/1.1 twin.
import { createServer } from "node:http2";

const size = Number(process.env.BODY_BYTES ?? 1024);
const body = Buffer.alloc(size, "x");
const server = createServer({ peerMaxConcurrentStreams: 1000 }, (req, res) => {
  req.resume();
  res.writeHead(200, { "content-type": "text/plain", "content-length": body.length });
  res.end(body);
});
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const addr = server.address();
  process.stdout.write(`listening ${typeof addr === "object" && addr ? addr.port : 0}\n`);
});
process.on("SIGTERM", () => process.exit(0));
