// A workload's side of the CA: makes its own key, sends a CSR with its bootstrap token, and renews at half-life.
import { EventEmitter } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { caServiceDefinition, type CertificateRequest, type CertificateResponse } from "./ca-api.js";
import { type Identity, spiffeId } from "./spiffe.js";
import { createCsr, generateKeyPair, inspect } from "./x509.js";

export interface WorkloadCertificate {
  keyPem: string;
  /** Leaf then intermediates (without the root), as a TLS server or client presents it. */
  certChainPem: string;
  rootsPem: string;
  notAfter: Date;
  notBefore: Date;
}

export interface CaClientOptions {
  /** "host:port" of the CA's TLS endpoint (15012); several replicas comma-separated, tried in turn. */
  address: string;
  /** PEM roots that sign the CA's serving certificate (the mesh root); asked again per request, so a rotated bundle applies. */
  caRootsPem: string | (() => string);
  /** The name the CA's certificate must carry (Istio's default). */
  serverName?: string;
  token: () => string;
  identity: Identity;
  /** Requested lifetime in seconds (0 = the CA's default). */
  ttlSeconds?: number;
  /** Retry delay after a failed request, doubling up to 30 s. */
  retryBaseMs?: number;
}

type CreateCertificate = (req: CertificateRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: CertificateResponse) => void) => void;

/**
 * Keeps a workload certificate fresh. Emits "certificate" (WorkloadCertificate) on each issue, and "error"-free
 * "failure" (Error) when a request fails; it retries with backoff and never stops on its own until close().
 */
export class CaClient extends EventEmitter {
  private client: grpc.Client;
  private clientRoots = "";
  private clientAddress = "";
  private readonly addresses: string[];
  private addressIndex = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private current: WorkloadCertificate | undefined;

  constructor(private readonly options: CaClientOptions) {
    super();
    this.addresses = options.address.split(",").map((a) => a.trim()).filter(Boolean);
    if (this.addresses.length === 0) throw new Error("CA client: no CA address given");
    this.client = this.channel();
  }

  /** The channel to the CA, new when the trusted roots or the replica in use changed. */
  private channel(): grpc.Client {
    const roots = typeof this.options.caRootsPem === "function" ? this.options.caRootsPem() : this.options.caRootsPem;
    const address = this.addresses[this.addressIndex];
    if (this.client && roots === this.clientRoots && address === this.clientAddress) return this.client;
    this.client?.close();
    this.clientRoots = roots;
    this.clientAddress = address;
    const Client = grpc.makeGenericClientConstructor(caServiceDefinition, "IstioCertificateService");
    this.client = new Client(address, grpc.credentials.createSsl(Buffer.from(roots)), {
      "grpc.ssl_target_name_override": this.options.serverName ?? "istiod.istio-system.svc",
    });
    return this.client;
  }

  certificate(): WorkloadCertificate | undefined {
    return this.current;
  }

  /** Requests a certificate now; resolves with it, then keeps renewing at half of its lifetime. */
  async start(): Promise<WorkloadCertificate> {
    const cert = await this.request();
    this.install(cert);
    return cert;
  }

  /** Asks for a new certificate now (the trust bundle moved to a new root), then renews at half-life as usual. */
  renewNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.schedule(0, this.options.retryBaseMs ?? 1000);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.client.close();
  }

  /** One CSR, to each replica in turn until one signs (a refusal from one is as final as from another but for UNAVAILABLE). */
  async request(): Promise<WorkloadCertificate> {
    for (let tried = 1; ; tried++) {
      try {
        return await this.requestOnce();
      } catch (err) {
        const code = ((err as Error).cause as grpc.ServiceError | undefined)?.code;
        if (tried >= this.addresses.length || (code !== grpc.status.UNAVAILABLE && code !== grpc.status.DEADLINE_EXCEEDED)) throw err;
        this.addressIndex = (this.addressIndex + 1) % this.addresses.length;
      }
    }
  }

  private async requestOnce(): Promise<WorkloadCertificate> {
    const address = this.addresses[this.addressIndex];
    const keys = await generateKeyPair();
    const csr = await createCsr(keys, [spiffeId(this.options.identity)]);
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${this.options.token()}`);
    const res = await new Promise<CertificateResponse>((resolve, reject) => {
      (this.channel() as unknown as { CreateCertificate: CreateCertificate }).CreateCertificate(
        { csr, validity_duration: this.options.ttlSeconds ?? 0 }, md, { deadline: Date.now() + 10_000 },
        (err, value) => (err ? reject(new Error(`CA ${address} refused the CSR: ${err.details || err.message}`, { cause: err })) : resolve(value)),
      );
    });
    if (res.cert_chain.length < 2) throw new Error(`CA ${address} answered with ${res.cert_chain.length} certificate(s); expected the leaf and the root`);
    const leaf = inspect(res.cert_chain[0]);
    return {
      keyPem: keys.keyPem,
      certChainPem: res.cert_chain.slice(0, -1).join(""),
      rootsPem: res.cert_chain[res.cert_chain.length - 1],
      notAfter: new Date(leaf.validTo),
      notBefore: new Date(leaf.validFrom),
    };
  }

  private install(cert: WorkloadCertificate): void {
    this.current = cert;
    this.emit("certificate", cert);
    const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
    const renewAt = cert.notBefore.getTime() + lifetime / 2;
    this.schedule(Math.max(1000, renewAt - Date.now()), this.options.retryBaseMs ?? 1000);
  }

  private schedule(delayMs: number, retryMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.request().then(
        (cert) => !this.closed && this.install(cert),
        (err: Error) => {
          this.emit("failure", err);
          this.schedule(retryMs, Math.min(retryMs * 2, 30_000));
        },
      );
    }, delayMs);
    this.timer.unref();
  }
}
