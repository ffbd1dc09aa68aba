// Keeps the injector's MutatingWebhookConfiguration written while this replica leads: singleton work, like the
// validating webhook's configuration. It watches the leader flag instead of hooking into the election, so the
// election code stays as it is; the API server is only asked on becoming leader, every check period, and after a
// root rotation (new caBundle).
import { KubeApiError, type KubeClient, type KubeObject } from "../client.js";
import { canonical } from "../webhook-config.js";
import { injectorWebhookConfiguration, type InjectorWebhookOptions } from "./injector-webhook-config.js";

const PATH = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations";

/** Creates or corrects the configuration; true when it wrote. Fields the API server defaulted are kept. */
export async function ensureInjectorConfiguration(kube: KubeClient, want: KubeObject): Promise<boolean> {
  const name = want.metadata.name;
  const have = await kube.find<KubeObject>(`${PATH}/${name}`);
  const haveHooks = (have?.webhooks as Array<Record<string, unknown>> | undefined) ?? [];
  const next: KubeObject = {
    ...want,
    metadata: { ...have?.metadata, ...want.metadata, labels: { ...have?.metadata.labels, ...want.metadata.labels } },
    webhooks: (want.webhooks as Array<Record<string, unknown>>).map((w) => ({ ...haveHooks.find((h) => h.name === w.name), ...w })),
  };
  if (have && canonical(have.webhooks) === canonical(next.webhooks)) return false;
  try {
    if (have) await kube.request("PUT", `${PATH}/${name}`, { body: next });
    else await kube.request("POST", PATH, { body: want });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 409) return false; // another writer; the next check looks again
    throw err;
  }
  return true;
}

export interface InjectorRegistrationOptions {
  isLeader(): boolean;
  webhook: Omit<InjectorWebhookOptions, "caBundlePem">;
  rootsPem(): string;
  /** How often the leader re-checks (someone may edit or delete it). Default 30 s. */
  checkMs?: number;
  log(line: string): void;
}

export class InjectorRegistration {
  private timer?: NodeJS.Timeout;
  private lastCheck = 0;
  private wasLeader = false;
  private running = false;

  constructor(private readonly kube: KubeClient, private readonly o: InjectorRegistrationOptions) {}

  start(): void {
    // The leader flag is read locally each second; the API server is asked only when it matters.
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    this.tick();
  }

  /** New roots: the caBundle changes now. */
  rootsChanged(): void {
    this.lastCheck = 0;
    this.tick();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    const leader = this.o.isLeader();
    const due = leader && (!this.wasLeader || Date.now() - this.lastCheck >= (this.o.checkMs ?? 30_000));
    this.wasLeader = leader;
    if (!due || this.running) return;
    this.running = true;
    this.lastCheck = Date.now();
    const want = injectorWebhookConfiguration({ ...this.o.webhook, caBundlePem: this.o.rootsPem() });
    ensureInjectorConfiguration(this.kube, want).then(
      (wrote) => wrote && this.o.log(`trellis control: MutatingWebhookConfiguration ${want.metadata.name} written (sidecar injection; caBundle: the mesh roots)`),
      (err: Error) => {
        this.lastCheck = Date.now() - (this.o.checkMs ?? 30_000) + 5000; // try again in 5 s
        this.o.log(`trellis control: cannot write MutatingWebhookConfiguration ${want.metadata.name}: ${err.message}`);
      },
    ).finally(() => (this.running = false));
  }
}
