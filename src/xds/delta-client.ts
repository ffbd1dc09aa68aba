// Incremental xDS (Delta) on the client side, as Envoy speaks it with api_type DELTA_GRPC: CDS and LDS as wildcard
// subscriptions, EDS/RDS/SDS names subscribed and unsubscribed as the applied config needs them; each response
// carries only changed resources (by their own versions) and removed_resources, merged into the set held and applied
// all or nothing (ACK: the nonce; NACK: the nonce and error_detail, the held set unchanged). A new stream sends
// initial_resource_versions, so the server resends only what changed while it was away.
import * as grpc from "@grpc/grpc-js";
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from "./ads-service.js";
import { kindOfTypeUrl, type ResourceKind, TYPE_URL } from "./resource.js";
import { type FieldError, formatErrors, type Result } from "./result.js";
import { nodeMessage } from "./sotw-client.js";
import { applySafely, type ClientProtocol, decodeResource, nameOf, PARENT_OF, WILDCARD, type XdsClientHandlers } from "./xds-client-protocol.js";

type Call = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

interface Held {
  version: string;
  resource: Record<string, unknown>;
}

export class DeltaClient implements ClientProtocol {
  /** What is applied, per type: name -> its version and decoded resource. */
  private readonly held = new Map<ResourceKind, Map<string, Held>>();
  private readonly systemVersion = new Map<ResourceKind, string>();
  /** Names subscribed on the current stream (EDS/RDS/SDS), per type. */
  private readonly subscribed = new Map<ResourceKind, Set<string>>();
  private first = true;

  constructor(private readonly h: XdsClientHandlers, private readonly kinds: ReadonlySet<ResourceKind>) {}

  versions(): Partial<Record<ResourceKind, string>> {
    return Object.fromEntries(this.systemVersion);
  }

  open(call: grpc.ClientDuplexStream<unknown, unknown>): void {
    this.first = true;
    this.subscribed.clear();
    for (const kind of WILDCARD) if (this.kinds.has(kind)) this.request(call as Call, kind, { subscribe: [], initial: this.initialVersions(kind) });
    this.updateSubscriptions(call);
  }

  private initialVersions(kind: ResourceKind, only?: ReadonlySet<string>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, h] of this.held.get(kind) ?? []) if (!only || only.has(name)) out[name] = h.version;
    return out;
  }

  updateSubscriptions(call: grpc.ClientDuplexStream<unknown, unknown>): void {
    const subs = this.h.subscriptions();
    for (const kind of ["endpoint", "route", "secret"] as const) {
      if (!this.kinds.has(kind)) continue;
      const wanted = new Set(subs[kind]);
      const sent = this.subscribed.get(kind);
      if (!sent) {
        if (wanted.size === 0) continue;
        this.subscribed.set(kind, wanted);
        this.request(call as Call, kind, { subscribe: [...wanted].sort(), initial: this.initialVersions(kind, wanted) });
        continue;
      }
      const subscribe = [...wanted].filter((n) => !sent.has(n)).sort();
      const unsubscribe = [...sent].filter((n) => !wanted.has(n)).sort();
      if (!subscribe.length && !unsubscribe.length) continue;
      // What is unsubscribed is dropped here: the server forgets it too, and sends it again on a new subscription.
      for (const n of unsubscribe) this.held.get(kind)?.delete(n);
      this.subscribed.set(kind, wanted);
      this.request(call as Call, kind, { subscribe, unsubscribe });
    }
  }

  private request(call: Call, kind: ResourceKind, r: { subscribe?: string[]; unsubscribe?: string[]; initial?: Record<string, string>; nonce?: string; error?: FieldError[] }): void {
    call.write({
      node: this.first ? nodeMessage(this.h.node) : null,
      type_url: TYPE_URL[kind],
      resource_names_subscribe: r.subscribe ?? [],
      resource_names_unsubscribe: r.unsubscribe ?? [],
      initial_resource_versions: r.initial ?? {},
      response_nonce: r.nonce ?? "",
      error_detail: r.error ? { code: grpc.status.INVALID_ARGUMENT, message: formatErrors(r.error) } : null,
    });
    this.first = false;
  }

  async onResponse(call: grpc.ClientDuplexStream<unknown, unknown>, message: unknown, current: () => boolean): Promise<void> {
    const res = message as DeltaDiscoveryResponse;
    const kind = kindOfTypeUrl(res.type_url);
    if (!kind || !this.kinds.has(kind) || !current()) return;
    const next = new Map(this.held.get(kind) ?? []);
    const errors: FieldError[] = [];
    res.resources.forEach((r, i) => {
      const where = `resources[${i}]${r.name ? ` ${r.name}` : ""}`;
      const decoded = decodeResource(kind, r.resource, where, errors);
      if (!decoded) return;
      const name = nameOf(kind, decoded);
      if (r.name && r.name !== name) errors.push({ path: `${where}.name`, message: `names "${r.name}" but the resource is "${name}"` });
      else next.set(name, { version: r.version, resource: decoded });
    });
    const removed = res.removed_resources.filter((n) => next.delete(n));
    let result: Result<void> = errors.length ? { ok: false, errors } : { ok: true, value: undefined };
    if (result.ok) {
      const all = new Map([...next].map(([n, h]) => [n, h.resource as unknown]));
      result = await applySafely(this.h, kind, all, removed, res.system_version_info);
      if (result.ok) {
        this.held.set(kind, next);
        this.systemVersion.set(kind, res.system_version_info);
      }
    }
    if (!current()) return;
    this.request(call as Call, kind, { nonce: res.nonce, error: result.ok ? undefined : result.errors });
    if (result.ok && PARENT_OF[kind]) this.updateSubscriptions(call);
  }
}
