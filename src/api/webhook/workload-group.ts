// WorkloadGroup: valid Istio, stored and validated, but Trellis does not auto-register workloads from it (Istio's VM
// auto-registration: a proxy naming the group gets a WorkloadEntry made from its template, probed by its probe). So
// every write says so, rather than the group silently doing nothing; workloads join with `trellis run` or as pods.
import type { WebhookProblem } from "./problems.js";

export function workloadGroupProblems(): WebhookProblem[] {
  return [{
    code: "TRL0006", path: "spec",
    message: "spec: a WorkloadGroup is stored, but Trellis does not auto-register workloads from it yet, so its template and probe have no effect; register each workload with trellis run (universal mode) or run it as a pod (Kubernetes), or write a WorkloadEntry",
  }];
}
