// The injector's part of the control plane: its settings (read per request, so the webhook server holds a function)
// and the leader's registration of the MutatingWebhookConfiguration at the same address as the validating webhook,
// path /inject.
import type { KubeClient } from "../client.js";
import type { WebhookClientConfig } from "../webhook-config.js";
import { INJECT_PATH } from "./inject-admission.js";
import type { InjectSettings } from "./inject-settings.js";
import { InjectorRegistration } from "./injector-registration.js";

export interface InjectorOptions {
  settings(): InjectSettings;
  /** How often the leader re-checks the configuration (default 30 s). */
  checkMs?: number;
}

export interface InjectorContext {
  namespace: string;
  /** The validating webhook's clientConfig: the injector is served by the same server. */
  client: WebhookClientConfig;
  isLeader(): boolean;
  rootsPem(): string;
  log(line: string): void;
}

export function startInjector(kube: KubeClient, o: InjectorOptions, ctx: InjectorContext): InjectorRegistration {
  const settings = o.settings();
  const client = "url" in ctx.client ? { url: Object.assign(new URL(ctx.client.url), { pathname: INJECT_PATH }).toString() } : ctx.client;
  const registration = new InjectorRegistration(kube, {
    isLeader: ctx.isLeader, rootsPem: ctx.rootsPem, checkMs: o.checkMs, log: ctx.log,
    webhook: { revision: settings.revision, namespace: ctx.namespace, client },
  });
  registration.start();
  return registration;
}
