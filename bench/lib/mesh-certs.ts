// Certificates for the mutual-TLS scenarios, made once per run with the mesh's own code: a root, and EC P-256 leaves
// for the server-side and client-side proxies with SPIFFE URI SANs (and a DNS name, which nginx's verification needs).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRoot, generateKeyPair, signLeaf } from "../../src/identity/x509.js";

export interface MeshCerts {
  dir: string;
  root: string;
  /** PEM files: certificate, key, and both in one file (HAProxy's crt). */
  server: { cert: string; key: string; combined: string; spiffe: string; dns: string };
  client: { cert: string; key: string; combined: string; spiffe: string };
}

let made: Promise<MeshCerts> | undefined;

export function meshCerts(): Promise<MeshCerts> {
  made ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-bench-certs-"));
    const rootKeys = await generateKeyPair();
    const rootPem = await createRoot("cluster.local", rootKeys, 24 * 3600_000);
    writeFileSync(join(dir, "root.pem"), rootPem);
    const leaf = async (name: string, spiffe: string, dnsNames: string[]) => {
      const keys = await generateKeyPair();
      const cert = await signLeaf({ publicKey: keys.publicKey, uris: [spiffe], dnsNames, lifetimeMs: 24 * 3600_000, issuerCertPem: rootPem, issuerKey: rootKeys.privateKey });
      writeFileSync(join(dir, `${name}.pem`), cert);
      writeFileSync(join(dir, `${name}.key`), keys.keyPem, { mode: 0o600 });
      writeFileSync(join(dir, `${name}-combined.pem`), cert + keys.keyPem, { mode: 0o600 });
      return { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`), combined: join(dir, `${name}-combined.pem`), spiffe };
    };
    const server = { ...(await leaf("server", "spiffe://cluster.local/ns/default/sa/server", ["server.mesh"])), dns: "server.mesh" };
    const client = await leaf("client", "spiffe://cluster.local/ns/default/sa/client", []);
    return { dir, root: join(dir, "root.pem"), server, client };
  })();
  return made;
}
