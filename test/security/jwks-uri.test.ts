// RequestAuthentication with jwksUri through the whole path: the control plane fetches the key set from a real
// HTTP issuer on loopback, inlines it into a real sidecar's config over ADS, and the sidecar checks real tokens.
// While the issuer is down, tokens are refused (never accepted unchecked); once it is up, they pass.
import assert from "node:assert/strict";
import { createSign, generateKeyPairSync, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ControlPlane } from "../../src/app/control-plane.js";
import { startProxy } from "../../src/proxy/bootstrap.js";
import { echo, get } from "../proxy/harness.js";
import { freePort, sidecarBootstrap, until } from "../control/mesh-harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-jwks-"));
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

const issuerKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ISSUER = "testing@secure.istio.io";

function token(key: KeyObject): string {
  const head = Buffer.from(JSON.stringify({ alg: "RS256", kid: "k1", typ: "JWT" })).toString("base64url");
  const body = Buffer.from(JSON.stringify({ iss: ISSUER, sub: "alice", exp: Math.floor(Date.now() / 1000) + 600 })).toString("base64url");
  const sig = createSign("RSA-SHA256").update(`${head}.${body}`).sign(key).toString("base64url");
  return `${head}.${body}.${sig}`;
}

function startIssuer(port: number): Promise<Server> {
  const jwks = JSON.stringify({ keys: [{ ...issuerKey.publicKey.export({ format: "jwk" }), kid: "k1", alg: "RS256", use: "sig" }] });
  const server = createServer((req, res) => {
    if (req.url !== "/jwks.json") { res.writeHead(404).end(); return; }
    res.writeHead(200, { "content-type": "application/json" }).end(jwks);
  });
  return new Promise((r) => server.listen(port, "127.0.0.1", () => r(server)));
}

test("jwksUri: fetched by the control plane, inlined for the sidecar; refused while the issuer is down, accepted once it is up", async () => {
  const cp = new ControlPlane({ stateDir: join(dir, "state"), xdsPort: 0, apiPort: 0, otlpPort: 0, debounceMs: 20, log: () => {} });
  await cp.start();
  cleanup.unshift(() => cp.stop());
  const app = await echo("productpage");
  cleanup.push(() => app.close());
  const [inbound, issuerPort] = [await freePort(), await freePort()];
  const proxy = await startProxy(sidecarBootstrap(cp.ports.xds, "productpage-v1", {
    NAMESPACE: "default", SERVICE_ACCOUNT: "bookinfo-productpage", INSTANCE_IP: "127.0.0.1", SERVICE: "productpage",
    LABELS: { app: "productpage", version: "v1" }, INBOUND_PORT: inbound, APP_PORT: app.port, SERVICE_PORTS: [{ port: 9080, name: "http", protocol: "HTTP" }],
  }), { adminPort: 0, drainTimeoutMs: 100 });
  cleanup.unshift(() => proxy.stop());
  const url = `http://127.0.0.1:${inbound}/productpage`;
  await until("the sidecar to serve", async () => (await get(url).catch(() => undefined))?.status === 200);

  const meta = (name: string) => ({ name, namespace: "default" });
  cp.store.put({ apiVersion: "security.istio.io/v1", kind: "RequestAuthentication", metadata: meta("jwt"), spec: { selector: { matchLabels: { app: "productpage" } }, jwtRules: [{ issuer: ISSUER, jwksUri: `http://127.0.0.1:${issuerPort}/jwks.json` }] } } as never);
  cp.store.put({ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: meta("require-jwt"), spec: { selector: { matchLabels: { app: "productpage" } }, action: "ALLOW", rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] } } as never);
  const good = { authorization: `Bearer ${token(issuerKey.privateKey)}` };
  const forged = { authorization: `Bearer ${token(otherKey.privateKey)}` };

  // The issuer is not up yet: no request gets through, with or without a token.
  await until("the policy to apply", async () => (await get(url)).status === 403);
  assert.equal((await get(url, good)).status, 401, "a token cannot be checked without the key set, so it is refused");

  const issuer = await startIssuer(issuerPort);
  cleanup.push(() => new Promise((r) => { issuer.closeAllConnections(); issuer.close(() => r()); }));
  await until("the key set to be fetched and pushed", async () => (await get(url, good)).status === 200, 15_000);
  const seen = (await get(url, good)).json().headers as Record<string, string>;
  assert.equal(seen.authorization, undefined, "the token is not forwarded to the app (Istio's default)");
  assert.equal((await get(url, forged)).status, 401);
  assert.equal((await get(url)).status, 403);
});
