// The server's half of incremental xDS (Delta ADS) for one resource type on one stream: subscriptions (wildcard for
// LDS/CDS, explicit names, "*"), what the client holds (initial_resource_versions on reconnect, then what was sent),
// and the diff against the node's snapshot: changed resources by their own versions, removed_resources for names
// that left the snapshot, and for subscribed names that do not exist (told once, as the xDS protocol asks).
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from "./ads-service.js";
import type { AnyValue, ResourceKind } from "./resource.js";
import { resourceVersion } from "./resource-version.js";

export interface DeltaSubscription {
  wildcard: boolean;
  subscribed: Set<string>;
  /** Name -> version of what the client holds (as far as the server knows: updated when sent, as go-control-plane). */
  held: Map<string, string>;
  /** Subscribed names the client was told do not exist. */
  notFound: Set<string>;
}

const LEGACY_WILDCARD = new Set<ResourceKind>(["cluster", "listener"]);

/** Refusals of request fields Trellis does not implement, by name; undefined when the request is acceptable. */
export function refusedDeltaFields(req: DeltaDiscoveryRequest): string | undefined {
  if (req.resource_locators_subscribe?.length || req.resource_locators_unsubscribe?.length) {
    return "DeltaDiscoveryRequest.resource_locators_subscribe/unsubscribe (xDS-TP dynamic parameters) are not supported: use resource_names_subscribe";
  }
  return undefined;
}

/** The subscription a type's first request opens: legacy wildcard (LDS/CDS with no names), "*", or names. */
export function openSubscription(kind: ResourceKind, req: DeltaDiscoveryRequest): DeltaSubscription {
  const names = req.resource_names_subscribe;
  const sub: DeltaSubscription = {
    wildcard: (names.length === 0 && LEGACY_WILDCARD.has(kind)) || names.includes("*"),
    subscribed: new Set(names.filter((n) => n !== "*")),
    held: new Map(Object.entries(req.initial_resource_versions ?? {})),
    notFound: new Set(),
  };
  return sub;
}

/** Applies a later request's subscribe/unsubscribe lists; true when what the client wants changed. */
export function updateSubscription(sub: DeltaSubscription, req: DeltaDiscoveryRequest): boolean {
  let changed = false;
  for (const n of req.resource_names_subscribe) {
    if (n === "*") {
      changed ||= !sub.wildcard;
      sub.wildcard = true;
    } else if (!sub.subscribed.has(n)) {
      sub.subscribed.add(n);
      changed = true;
    }
  }
  for (const n of req.resource_names_unsubscribe) {
    if (n === "*") {
      changed ||= sub.wildcard;
      sub.wildcard = false;
      continue;
    }
    // The client drops what it unsubscribed from; a later subscription gets it again.
    if (sub.subscribed.delete(n)) changed = true;
    sub.held.delete(n);
    sub.notFound.delete(n);
  }
  return changed;
}

/**
 * What the client lacks of `resources` (a snapshot's resources of the type): undefined when nothing, unless `always`
 * (a type's first request is answered even when empty, so the client knows the server heard it). Updates `sub.held`.
 */
export function deltaDiff(sub: DeltaSubscription, typeUrl: string, version: string, resources: ReadonlyMap<string, AnyValue>, always: boolean): Omit<DeltaDiscoveryResponse, "nonce"> | undefined {
  const wanted = (name: string) => sub.wildcard || sub.subscribed.has(name);
  const out: Omit<DeltaDiscoveryResponse, "nonce"> = { system_version_info: version, resources: [], type_url: typeUrl, removed_resources: [] };
  for (const [name, any] of resources) {
    if (!wanted(name)) continue;
    const v = resourceVersion(any);
    if (sub.held.get(name) === v) continue;
    out.resources.push({ name, version: v, resource: any, aliases: [] });
    sub.held.set(name, v);
    sub.notFound.delete(name);
  }
  for (const name of [...sub.held.keys()]) {
    if (resources.has(name)) continue;
    // Out of interest: dropped by the client itself when it unsubscribed; gone from the snapshot: removed.
    sub.held.delete(name);
    if (wanted(name)) out.removed_resources.push(name);
    if (sub.subscribed.has(name)) sub.notFound.add(name);
  }
  for (const name of sub.subscribed) {
    if (resources.has(name) || sub.notFound.has(name)) continue;
    sub.notFound.add(name);
    out.removed_resources.push(name);
  }
  if (!always && out.resources.length === 0 && out.removed_resources.length === 0) return undefined;
  return out;
}
