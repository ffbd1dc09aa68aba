// Why a gateway's Secret cannot be served (IST0161), one case per reason, and a good Secret passing.
import assert from "node:assert/strict";
import { test } from "node:test";
import { credentialProblem } from "../../src/api/analyzers/kube/gateway-credentials.js";
import { createTestCa, issueCert } from "../fixtures/gateway-certs.js";

const ca = await createTestCa();
const [a, b] = [await issueCert(ca, ["a.example.com"]), await issueCert(ca, ["b.example.com"])];
const b64 = (t: string) => Buffer.from(t).toString("base64");
const secret = (data: Record<string, string>) => ({ kind: "Secret", metadata: { name: "s" }, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])) });

test("a certificate and its own key, in either layout, can be served", () => {
  assert.equal(credentialProblem(secret({ "tls.crt": a.certPem, "tls.key": a.keyPem })), undefined);
  assert.equal(credentialProblem(secret({ cert: a.certPem, key: a.keyPem })), undefined);
});

test("each reason a Secret cannot be served is named, without quoting its data", () => {
  assert.match(credentialProblem(secret({ "tls.key": a.keyPem }))!, /has no certificate/);
  assert.match(credentialProblem(secret({ "tls.crt": a.certPem }))!, /has no private key/);
  assert.match(credentialProblem(secret({ "tls.crt": "not a cert", "tls.key": a.keyPem }))!, /not PEM X\.509/);
  assert.match(credentialProblem(secret({ "tls.crt": a.certPem, "tls.key": b.keyPem }))!, /not the certificate's/);
  assert.match(credentialProblem(secret({ "tls.crt": a.certPem, "tls.key": "garbage" }))!, /private key that is not PEM/);
  assert.match(credentialProblem(secret({ "tls.crt": a.certPem, "tls.key": a.keyPem }), new Date(Date.now() + 7200_000))!, /expired on/);
  for (const m of [credentialProblem(secret({ "tls.crt": a.certPem, "tls.key": b.keyPem }))!]) assert.ok(!m.includes("BEGIN"), "no PEM in the message");
});
