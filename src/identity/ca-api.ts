// The CSR API shared by the CA and its clients, shaped like Istio's IstioCertificateService/CreateCertificate.
import type { ServiceDefinition } from "@grpc/grpc-js";
import protobuf from "protobufjs";

// Same package, service, method and field numbers as Istio's security/v1alpha1/ca.proto, so either side interoperates.
const PROTO = `
syntax = "proto3";
package istio.v1.auth;
import "google/protobuf/struct.proto";
message IstioCertificateRequest {
  string csr = 1;
  int64 validity_duration = 3;
  google.protobuf.Struct metadata = 4;
}
message IstioCertificateResponse {
  repeated string cert_chain = 1;
}
service IstioCertificateService {
  rpc CreateCertificate(IstioCertificateRequest) returns (IstioCertificateResponse);
}
`;

export interface CertificateRequest {
  csr: string;
  /** Requested lifetime in seconds (0 = the CA's default). */
  validity_duration: number;
}

export interface CertificateResponse {
  /** Leaf first, then intermediates; the last element is the root. */
  cert_chain: string[];
}

const root = protobuf.Root.fromJSON(protobuf.common.get("google/protobuf/struct.proto")!);
protobuf.parse(PROTO, root, { keepCase: true });
const Request = root.lookupType("istio.v1.auth.IstioCertificateRequest");
const Response = root.lookupType("istio.v1.auth.IstioCertificateResponse");

export const CA_SERVICE_PATH = "/istio.v1.auth.IstioCertificateService/CreateCertificate";

export const caServiceDefinition: ServiceDefinition = {
  CreateCertificate: {
    path: CA_SERVICE_PATH,
    requestStream: false,
    responseStream: false,
    originalName: "CreateCertificate",
    requestSerialize: (v: CertificateRequest) => Buffer.from(Request.encode(Request.fromObject(v)).finish()),
    requestDeserialize: (b: Buffer) => Request.toObject(Request.decode(b), { longs: Number, defaults: true }) as CertificateRequest,
    responseSerialize: (v: CertificateResponse) => Buffer.from(Response.encode(Response.fromObject(v)).finish()),
    responseDeserialize: (b: Buffer) => Response.toObject(Response.decode(b), { defaults: true, arrays: true }) as CertificateResponse,
  },
};
