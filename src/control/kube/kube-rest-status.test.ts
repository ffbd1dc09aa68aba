// The REST API's status for each kind of refusal from the Kubernetes API server: passed on where it means the same
// to our client, 503 when unreachable, 502 for the API server's own failures, nothing for other errors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubeApiError } from "./client.js";
import { restStatusOfKubeError } from "./kube-rest-status.js";

const kubeError = (status: number, reason: string) => new KubeApiError(status, reason, `create virtualservices in namespace x: ${reason}: details`, "POST", "/apis/networking.istio.io/v1/namespaces/x/virtualservices");

describe("REST status of a Kubernetes API error", () => {
  it("passes on 403, 404, 409, 422 and 429 with the API server's reason and message", () => {
    for (const [code, reason] of [[403, "Forbidden"], [404, "NotFound"], [409, "AlreadyExists"], [422, "Invalid"], [429, "TooManyRequests"], [400, "BadRequest"]] as const) {
      const s = restStatusOfKubeError(kubeError(code, reason));
      assert.equal(s?.code, code, reason);
      assert.equal(s?.reason, reason);
      assert.match(s!.message, /^the Kubernetes API server refused it: create virtualservices in namespace x: .*details$/);
    }
  });

  it("names a reason when the API server's answer had none (not a Status body)", () => {
    assert.equal(restStatusOfKubeError(kubeError(422, "HTTP 422"))?.reason, "Invalid");
  });

  it("answers 503 when the API server cannot be reached and 502 for its own failures", () => {
    assert.deepEqual([restStatusOfKubeError(kubeError(0, "Unreachable"))?.code, restStatusOfKubeError(kubeError(500, "InternalError"))?.code, restStatusOfKubeError(kubeError(504, "Timeout"))?.code], [503, 502, 502]);
  });

  it("leaves every other error to the caller", () => {
    assert.equal(restStatusOfKubeError(new Error("boom")), undefined);
    assert.equal(restStatusOfKubeError({ status: 404 }), undefined);
  });
});
