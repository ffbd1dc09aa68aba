// The control plane's singleton work in Kubernetes mode, done by the replica that holds the Lease: the
// istio-ca-root-cert ConfigMaps, the validating webhook's configuration (caBundle) and Istio resources' status. Followers serve xDS, CSRs and
// the webhook like the leader; they only leave these writes alone, so replicas never fight over them.
import type { KubeClient } from "./client.js";
import { LeaderElector, type LeaderElectionOptions } from "./leader-election.js";
import { RootCertPublisher } from "./root-cert-publisher.js";
import { type StatusSource, StatusWriter } from "./leader-status.js";
import { DEFAULT_WEBHOOK_CONFIG_NAME, ensureWebhookConfiguration, type WebhookClientConfig } from "./webhook-config.js";

export interface LeaderDutiesOptions {
  /** The control plane's namespace (where its Lease lives). */
  namespace: string;
  rootsPem(): string;
  /** Where the API server reaches the webhook; undefined = no webhook registered. */
  webhook?: { client: WebhookClientConfig; configName?: string };
  /** How often the leader re-checks the webhook configuration (someone may edit or delete it). Default 30 s. */
  webhookCheckMs?: number;
  /** Istio's resources whose status the leader writes (Kubernetes mode's store); undefined = no status. */
  status?: StatusSource;
  election?: Partial<Pick<LeaderElectionOptions, "name" | "identity" | "leaseDurationMs" | "renewIntervalMs" | "retryIntervalMs">>;
  log?(line: string): void;
}

export class LeaderDuties {
  readonly elector: LeaderElector;
  private readonly publisher: RootCertPublisher;
  private readonly status?: StatusWriter;
  private webhookTimer?: NodeJS.Timeout;
  private readonly log: (line: string) => void;

  constructor(private readonly client: KubeClient, private readonly options: LeaderDutiesOptions) {
    this.log = options.log ?? ((l) => console.error(l));
    this.publisher = new RootCertPublisher(client, { rootsPem: options.rootsPem, log: this.log });
    if (options.status) this.status = new StatusWriter(client, options.status, this.log);
    this.elector = new LeaderElector(client, {
      ...options.election,
      namespace: options.namespace,
      log: this.log,
      onStartedLeading: () => {
        this.publisher.start();
        this.status?.start();
        this.checkWebhook();
      },
      onStoppedLeading: () => {
        this.publisher.stop();
        this.status?.stop();
        clearTimeout(this.webhookTimer);
      },
    });
  }

  start(): void {
    this.elector.start();
  }

  /** The mesh's roots changed: the leader rewrites every ConfigMap and the caBundle now. */
  async rootsChanged(): Promise<void> {
    if (!this.elector.isLeader) return;
    await this.publisher.refresh();
    this.checkWebhook();
  }

  async stop(): Promise<void> {
    clearTimeout(this.webhookTimer);
    this.publisher.stop();
    this.status?.stop();
    await this.elector.stop();
  }

  private checkWebhook(): void {
    clearTimeout(this.webhookTimer);
    const hook = this.options.webhook;
    if (!hook || !this.elector.isLeader) return;
    const name = hook.configName ?? DEFAULT_WEBHOOK_CONFIG_NAME;
    ensureWebhookConfiguration(this.client, name, hook.client, this.options.rootsPem()).then(
      (wrote) => wrote && this.log(`trellis control: ValidatingWebhookConfiguration ${name} written (caBundle: the mesh roots)`),
      (err: Error) => this.log(`trellis control: cannot write ValidatingWebhookConfiguration ${name}: ${err.message}`),
    ).finally(() => {
      if (!this.elector.isLeader) return;
      this.webhookTimer = setTimeout(() => this.checkWebhook(), this.options.webhookCheckMs ?? 30_000);
      this.webhookTimer.unref();
    });
  }
}
