// The gRPC scenario's upstream: a real @grpc/grpc-js server with one unary method answering a 1 KB Payload. Messages
// stay bytes (no codegen): the wire format is the Payload of grpc-message.ts.
import { Server, ServerCredentials, type ServiceDefinition, type sendUnaryData, type ServerUnaryCall } from "@grpc/grpc-js";
import { GRPC_METHOD, payload } from "./grpc-message.js";

const response = payload(Number(process.env.BODY_BYTES ?? 1024));
const same = (b: Buffer) => b;
const service: ServiceDefinition = {
  Unary: { path: GRPC_METHOD, requestStream: false, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same },
};

const server = new Server();
server.addService(service, { Unary: (_call: ServerUnaryCall<Buffer, Buffer>, done: sendUnaryData<Buffer>) => done(null, response) });
server.bindAsync(`127.0.0.1:${process.env.PORT ?? 0}`, ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  process.stdout.write(`listening ${port}\n`);
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
