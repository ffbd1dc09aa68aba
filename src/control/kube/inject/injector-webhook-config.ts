// The MutatingWebhookConfiguration that makes the API server call the injector, as Istio's chart writes it (name
// istio-sidecar-injector[-REV], webhooks *.sidecar-injector.istio.io, Service istiod[-REV] port 443 path /inject).
// Pure, so `trellis manifest generate` and the Helm chart's tests can import the same object.
import type { KubeObject } from "../client.js";
import { INJECT_PATH } from "./inject-admission.js";

export type InjectorClientConfig = { url: string } | { service: { namespace: string; name: string; port: number } };

export interface InjectorWebhookOptions {
  /** "" or "default" = the default revision. */
  revision: string;
  /** The control plane's namespace (the Service's). */
  namespace: string;
  /** Where the API server calls; default the Service istiod[-REV].NAMESPACE:443. */
  client?: InjectorClientConfig;
  caBundlePem: string;
  /** Istio's sidecarInjectorWebhook.reinvocationPolicy: Never (default) or IfNeeded. */
  reinvocationPolicy?: "Never" | "IfNeeded";
}

export function injectorConfigName(revision: string): string {
  return revision && revision !== "default" ? `istio-sidecar-injector-${revision}` : "istio-sidecar-injector";
}

const expr = (key: string, operator: "In" | "NotIn" | "DoesNotExist", values?: string[]) => ({ key, operator, ...(values ? { values } : {}) });

/**
 * Istio's four selectors: a namespace labelled istio.io/rev=REV (pods may opt out with sidecar.istio.io/inject=false),
 * a pod labelled istio.io/rev=REV in an unlabelled namespace, and for the default revision also a namespace labelled
 * istio-injection=enabled and a pod labelled sidecar.istio.io/inject=true in an unlabelled namespace.
 */
export function injectorWebhookConfiguration(o: InjectorWebhookOptions): KubeObject {
  const rev = o.revision && o.revision !== "default" ? o.revision : "default";
  const caBundle = Buffer.from(o.caBundlePem).toString("base64");
  const client = o.client ?? { service: { namespace: o.namespace, name: rev === "default" ? "istiod" : `istiod-${rev}`, port: 443 } };
  const clientConfig = "url" in client ? { url: client.url, caBundle } : { service: { ...client.service, path: INJECT_PATH }, caBundle };
  const hook = (name: string, namespaceSelector: unknown[], objectSelector: unknown[]) => ({
    name,
    clientConfig,
    rules: [{ operations: ["CREATE"], apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], scope: "*" }],
    namespaceSelector: { matchExpressions: namespaceSelector },
    objectSelector: { matchExpressions: objectSelector },
    // A pod that should have a sidecar is never created without one (Istio's default).
    failurePolicy: "Fail",
    matchPolicy: "Equivalent",
    sideEffects: "None",
    reinvocationPolicy: o.reinvocationPolicy ?? "Never",
    admissionReviewVersions: ["v1"],
    timeoutSeconds: 10,
  });
  const webhooks = [
    hook("rev.namespace.sidecar-injector.istio.io", [expr("istio.io/rev", "In", [rev]), expr("istio-injection", "DoesNotExist")], [expr("sidecar.istio.io/inject", "NotIn", ["false"])]),
    hook("rev.object.sidecar-injector.istio.io", [expr("istio.io/rev", "DoesNotExist"), expr("istio-injection", "DoesNotExist")], [expr("sidecar.istio.io/inject", "NotIn", ["false"]), expr("istio.io/rev", "In", [rev])]),
  ];
  if (rev === "default") {
    webhooks.push(
      hook("namespace.sidecar-injector.istio.io", [expr("istio-injection", "In", ["enabled"])], [expr("sidecar.istio.io/inject", "NotIn", ["false"])]),
      hook("object.sidecar-injector.istio.io", [expr("istio-injection", "DoesNotExist"), expr("istio.io/rev", "DoesNotExist")], [expr("sidecar.istio.io/inject", "In", ["true"]), expr("istio.io/rev", "DoesNotExist")]),
    );
  }
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: injectorConfigName(o.revision), labels: { app: "sidecar-injector", "istio.io/rev": rev } },
    webhooks,
  };
}
