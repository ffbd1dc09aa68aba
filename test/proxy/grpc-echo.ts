// A small gRPC echo service (unary and bidirectional streaming) for tests, defined inline.
import * as grpc from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";
import protobuf from "protobufjs";

const PROTO = `
syntax = "proto3";
package trellis.test;
message Msg { string text = 1; int32 n = 2; }
service Echo {
  rpc Unary(Msg) returns (Msg);
  rpc Chat(stream Msg) returns (stream Msg);
}`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const definition = grpc.loadPackageDefinition(fromJSON(root.toJSON() as Parameters<typeof fromJSON>[0]));
const EchoService = (definition.trellis as grpc.GrpcObject).test as grpc.GrpcObject;
export const EchoClient = EchoService.Echo as grpc.ServiceClientConstructor;

export interface Msg { text: string; n: number }

export async function startEchoServer(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService(EchoClient.service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      if (call.request.text === "fail") return cb({ code: grpc.status.FAILED_PRECONDITION, details: "asked to fail" });
      cb(null, { text: `${name}:${call.request.text}`, n: call.request.n + 1 });
    },
    Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on("data", (m: Msg) => call.write({ text: `${name}:${m.text}`, n: m.n * 2 }));
      call.on("end", () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { port, close: () => new Promise((r) => server.tryShutdown(() => r())) };
}
