// The ValidatingWebhookConfiguration that makes the API server call our webhook for Istio's kinds, with the mesh's
// roots as its caBundle. Singleton work: the leader writes it, and rewrites it after a root rotation.
//
// How the API server reaches the webhook: a `url` clientConfig (https://HOST:PORT/validate) or a `service` one
// (istiod.NS.svc through the Service's endpoints). Tests use `url` at a loopback address: an EndpointSlice may not
// name a loopback address (the API server's validation refuses 127.0.0.0/8), so a Service cannot lead to a webhook on
// 127.0.0.1, while a url can. In a cluster the Service form is the default, as istiod's chart does.
import { KINDS } from "../../api/kinds.js";
import { type KubeClient, KubeApiError, type KubeObject } from "./client.js";
import { WEBHOOK_PATH } from "./webhook-server.js";

export const DEFAULT_WEBHOOK_CONFIG_NAME = "trellis-validator-istio-system";

export type WebhookClientConfig = { url: string } | { service: { namespace: string; name: string; port: number } };

/** The whole ValidatingWebhookConfiguration for one clientConfig and CA bundle. Pure, for table tests. */
export function webhookConfiguration(name: string, client: WebhookClientConfig, caBundlePem: string): KubeObject {
  const caBundle = Buffer.from(caBundlePem).toString("base64");
  const clientConfig = "url" in client ? { url: client.url, caBundle } : { service: { ...client.service, path: WEBHOOK_PATH }, caBundle };
  const byGroup = new Map<string, string[]>();
  for (const k of KINDS) byGroup.set(k.group, [...(byGroup.get(k.group) ?? []), k.plural]);
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name, labels: { app: "trellis-control", "istio.io/rev": "default" } },
    webhooks: [{
      name: "validation.istio.io",
      clientConfig,
      rules: [...byGroup].map(([group, resources]) => ({ apiGroups: [group], apiVersions: ["*"], operations: ["CREATE", "UPDATE"], resources, scope: "Namespaced" })),
      // Refuse when the webhook cannot be reached: an unvalidated resource could break every proxy.
      failurePolicy: "Fail",
      sideEffects: "None",
      admissionReviewVersions: ["v1"],
      timeoutSeconds: 10,
    }],
  };
}

/** Creates or corrects the configuration; true when it wrote. */
export async function ensureWebhookConfiguration(kube: KubeClient, name: string, client: WebhookClientConfig, caBundlePem: string): Promise<boolean> {
  const path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations";
  const want = webhookConfiguration(name, client, caBundlePem);
  const have = await kube.find<KubeObject>(`${path}/${name}`);
  if (have && canonical(have.webhooks) === canonical(merged(have, want).webhooks)) return false;
  try {
    if (have) await kube.request("PUT", `${path}/${name}`, { body: merged(have, want) });
    else await kube.request("POST", path, { body: want });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 409) return false; // another writer; the next pass checks again
    throw err;
  }
  return true;
}

/**
 * Ours over theirs, but keeping what the API server defaulted (matchPolicy, namespaceSelector, objectSelector), so an
 * unchanged configuration compares equal and is not rewritten every pass.
 */
function merged(have: KubeObject, want: KubeObject): KubeObject {
  const haveHooks = (have.webhooks as Array<Record<string, unknown>> | undefined) ?? [];
  const wantHooks = want.webhooks as Array<Record<string, unknown>>;
  return {
    ...want,
    metadata: { ...have.metadata, labels: { ...have.metadata.labels, ...want.metadata.labels } },
    webhooks: wantHooks.map((w, i) => {
      const h = haveHooks[i] ?? {};
      const rules = (w.rules as Array<Record<string, unknown>>).map((r, j) => ({ ...((h.rules as Array<Record<string, unknown>> | undefined)?.[j] ?? {}), ...r }));
      return { ...h, ...w, rules };
    }),
  };
}

/** JSON with object keys sorted, so equal content compares equal whatever order the API server returns keys in. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  return JSON.stringify(v);
}
