// Kubernetes mode's identity, admission and HA pieces put together for the control plane: workloads authenticated by
// TokenReview, the validating webhook served over TLS by every replica, and the leader's singleton writes (root-cert
// ConfigMaps, the webhook's caBundle). The control plane calls this once its CA is open.
import type { CertificateAuthority } from "../ca/authority.js";
import type { WorkloadAuthenticator } from "../ca/workload-authenticator.js";
import type { KubeClient } from "./client.js";
import { LeaderDuties, type LeaderDutiesOptions } from "./leader-duties.js";
import type { StatusSource } from "./leader-status.js";
import { kubeAuthenticator, TokenReviewer } from "./token-review.js";
import type { WebhookClientConfig } from "./webhook-config.js";
import { CA_SECRET, syncCaSecret } from "./root-ca-secret.js";
import { startWebhookServer, WEBHOOK_PATH, type WebhookServer } from "./webhook-server.js";
import { startInjector, type InjectorOptions } from "./inject/injector-plane.js";

const DEFAULT_NAMESPACE = "istio-system";

export interface KubeIdentityOptions {
  client: KubeClient;
  /** The control plane's own namespace: its Lease, and the webhook Service's namespace (istio-system by default). */
  namespace?: string;
  /**
   * The validating webhook: served on host:port (default 127.0.0.1:15017); registered with `url` when given (how
   * tests on loopback do it, see webhook-config.ts), else with the Service `service` (default istiod in the namespace).
   * undefined = no webhook.
   */
  webhook?: { host?: string; port?: number; url?: string; service?: { name: string; port: number }; dnsNames?: string[]; configName?: string; inject?: InjectorOptions };
  election?: LeaderDutiesOptions["election"];
  /** Istio's resources whose status the leader writes (set by the control plane from its Kubernetes store). */
  status?: StatusSource;
  /** How long a TokenReview answer is reused (default 30 s). */
  tokenCacheMs?: number;
}

export interface KubeIdentity {
  authenticator: WorkloadAuthenticator;
  duties: LeaderDuties;
  webhook?: WebhookServer;
  /** After a root rotation: a new webhook certificate, then (on the leader) new ConfigMaps and caBundle. */
  rootsChanged(): Promise<void>;
  stop(): Promise<void>;
}

/** Before the CA opens: a self-signed CA shares one root across replicas through the istio-ca-secret Secret. */
export async function shareSelfSignedRoot(o: KubeIdentityOptions, caDir: string, log: (line: string) => void): Promise<void> {
  const namespace = o.namespace ?? DEFAULT_NAMESPACE;
  const outcome = await syncCaSecret(o.client, namespace, caDir);
  log(`trellis control: ${outcome === "created" ? "made the mesh root and stored it in" : "using the mesh root from"} Secret ${namespace}/${CA_SECRET}`);
}

export async function startKubeIdentity(o: KubeIdentityOptions, ca: CertificateAuthority, log: (line: string) => void): Promise<KubeIdentity> {
  const namespace = o.namespace ?? DEFAULT_NAMESPACE;
  const authenticator = kubeAuthenticator(o.client, new TokenReviewer(o.client, { trustDomain: ca.trustDomain, cacheMs: o.tokenCacheMs }));
  let webhook: WebhookServer | undefined;
  let client: WebhookClientConfig | undefined;
  if (o.webhook) {
    const service = o.webhook.service ?? { name: "istiod", port: 443 };
    const dnsNames = [...new Set([`${service.name}.${namespace}.svc`, ...(o.webhook.dnsNames ?? []), ...(o.webhook.url ? [new URL(o.webhook.url).hostname] : [])])].filter((n) => !/^[\d.]+$|:/.test(n));
    webhook = await startWebhookServer({ ca, host: o.webhook.host, port: o.webhook.port, dnsNames, log, ...(o.webhook.inject ? { inject: o.webhook.inject } : {}) });
    client = o.webhook.url ? { url: webhookUrl(o.webhook.url, webhook.port) } : { service: { namespace, name: service.name, port: service.port } };
  }
  const duties = new LeaderDuties(o.client, { namespace, rootsPem: () => ca.rootsPem(), webhook: client ? { client, configName: o.webhook?.configName } : undefined, status: o.status, election: o.election, log });
  duties.start();
  const injector = o.webhook?.inject && client
    ? startInjector(o.client, o.webhook.inject, { namespace, client, isLeader: () => duties.elector.isLeader, rootsPem: () => ca.rootsPem(), log })
    : undefined;
  return {
    authenticator, duties, webhook,
    rootsChanged: async () => {
      await webhook?.renew();
      await duties.rootsChanged();
      injector?.rootsChanged();
    },
    stop: async () => {
      injector?.stop();
      await duties.stop();
      await webhook?.close();
    },
  };
}

/** The url the API server calls: the configured one, its port 0 replaced by the port actually bound, path /validate. */
function webhookUrl(configured: string, port: number): string {
  const url = new URL(configured);
  if (url.protocol !== "https:") throw new Error(`webhook url ${configured}: the API server calls webhooks over https only`);
  if (url.port === "0" || url.port === "") url.port = String(port);
  if (url.pathname === "/" || url.pathname === "") url.pathname = WEBHOOK_PATH;
  return url.toString();
}
