// telemetry-cost's OTLP/gRPC collector stand-in: a real @grpc/grpc-js server whose TraceService/Export takes any
// request and answers an empty ExportTraceServiceResponse, so the cost measured is the exporter's, not a collector's.
import { Server, ServerCredentials, type ServiceDefinition, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";

const same = (b: Buffer) => b;
const service: ServiceDefinition = {
  Export: { path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export", requestStream: false, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same },
};

const server = new Server();
server.addService(service, { Export: (_call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) => done(null, Buffer.alloc(0)) });
server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  process.stdout.write(`listening ${port}\n`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
