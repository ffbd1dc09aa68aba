// The OTLP/HTTP trace intake (POST /v1/traces on 4318): takes span batches from proxies, or from any OpenTelemetry
// SDK or collector, in protobuf or JSON, into the trace store. Refuses what it cannot read with 400 and the reason.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { decodeTraceJson, decodeTraceRequest, type OtlpBatch } from "../../xds/otlp-trace.js";
import type { TraceStore } from "./trace-store.js";

const MAX_BODY = 8 * 1024 * 1024;

function reply(res: ServerResponse, code: number, type: "json" | "protobuf", message?: string): void {
  // OTLP answers errors with a google.rpc.Status; in JSON its shape is {code, message}.
  const body = type === "json" || message ? JSON.stringify(message ? { code: 3, message } : {}) : "";
  res.writeHead(code, { "content-type": message || type === "json" ? "application/json" : "application/x-protobuf", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

export function otlpIntake(store: TraceStore): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.url?.split("?")[0] !== "/v1/traces") return reply(res, 404, "json", `no OTLP intake at ${req.url}; send traces to POST /v1/traces`);
    if (req.method !== "POST") return reply(res, 405, "json", "send traces with POST");
    const type = (req.headers["content-type"] ?? "").split(";")[0].trim();
    if (type !== "application/x-protobuf" && type !== "application/json") return reply(res, 415, "json", `content-type ${type || "(none)"} is not OTLP; use application/x-protobuf or application/json`);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reply(res, 413, "json", `a batch is limited to ${MAX_BODY} bytes; export smaller batches`);
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => {
      let batches: OtlpBatch[];
      try {
        const body = Buffer.concat(chunks);
        batches = type === "application/json" ? decodeTraceJson(JSON.parse(body.toString("utf8"))) : decodeTraceRequest(body);
      } catch (err) {
        return reply(res, 400, "json", `cannot read the OTLP ${type === "application/json" ? "JSON" : "protobuf"} body: ${(err as Error).message}`);
      }
      store.add(batches);
      reply(res, 200, type === "application/json" ? "json" : "protobuf");
    });
  };
}

export function startOtlpIntake(store: TraceStore, host: string, port: number): Promise<Server> {
  const server = createServer(otlpIntake(store));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
