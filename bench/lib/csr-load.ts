// Certificate signing requests as sidecars send them (IstioCertificateService/CreateCertificate over TLS with a
// bootstrap token, an EC P-256 CSR for the workload's SPIFFE ID), from `concurrency` loops, each on its own
// connection, for a fixed time. The CSRs are made before the clock starts (a sidecar's key generation is its own
// cost, not the CA's) and reused round-robin. Run as a child process so its CPU is not the CA's:
//   node dist/bench/lib/csr-load.js '{"address":"127.0.0.1:N","rootPem":..,"token":..,"namespace":..,"serviceAccount":..,"concurrency":8,"durationMs":5000,"pool":32}'
import * as grpc from "@grpc/grpc-js";
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from "../../src/identity/ca-api.js";
import { spiffeId } from "../../src/identity/spiffe.js";
import { createCsr, generateKeyPair } from "../../src/identity/x509.js";

interface Options { address: string; rootPem: string; token: string; namespace: string; serviceAccount: string; concurrency: number; durationMs: number; pool: number }
type CreateCertificate = (req: CertificateRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: CertificateResponse) => void) => void;

const o = JSON.parse(process.argv[2]) as Options;
const id = spiffeId({ trustDomain: "cluster.local", namespace: o.namespace, serviceAccount: o.serviceAccount });
const csrs: string[] = [];
for (let i = 0; i < o.pool; i++) csrs.push(await createCsr(await generateKeyPair(), [id]));
const md = new grpc.Metadata();
md.set("authorization", `Bearer ${o.token}`);
const Client = grpc.makeGenericClientConstructor(caServiceDefinition, "IstioCertificateService");
// A distinct channel option per loop gives each its own connection, as separate sidecars have.
const clients = Array.from({ length: o.concurrency }, (_, i) => new Client(o.address, grpc.credentials.createSsl(Buffer.from(o.rootPem)), {
  "grpc.ssl_target_name_override": "istiod.istio-system.svc", "bench.loop": i,
}) as unknown as grpc.Client & { CreateCertificate: CreateCertificate });
await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())))));

let done = 0;
let errors = 0;
let firstError: string | undefined;
let next = 0;
process.stderr.write("measuring\n");
const started = performance.now();
const end = started + o.durationMs;
await Promise.all(clients.map(async (client) => {
  while (performance.now() < end) {
    const csr = csrs[next++ % csrs.length];
    await new Promise<void>((resolve) => {
      client.CreateCertificate({ csr, validity_duration: 3600 }, md, { deadline: Date.now() + 10_000 }, (err, res) => {
        if (err || res.cert_chain.length < 2) {
          errors++;
          firstError ??= err ? err.details || err.message : `${res.cert_chain.length} certificate(s) in the chain`;
        } else done++;
        resolve();
      });
    });
  }
}));
const seconds = (performance.now() - started) / 1000;
for (const c of clients) c.close();
process.stdout.write(JSON.stringify({ completed: done, errors, firstError, seconds, perSecond: done / seconds }));
