// Per-proxy xDS snapshots from translated resources, encoding each distinct resource once: proxies share most of
// their resources (a namespace's outbound clusters, routes and endpoints), so a push to N proxies encodes what
// changed rather than N copies of everything. Proxies given the same resource also get the same encoded object,
// which lets the ADS server's consistency check decode it once. Resources the push cache shares between proxies and
// pushes are the same object each time: their digest and encoding are found by identity, without serializing them.
import { createHash } from "node:crypto";
import type { Snapshot } from "../xds/ads-server.js";
import { ADS_ORDER, type AnyValue, encodeAny, type ResourceKind, TYPE_URL } from "../xds/resource.js";
import { sharedLists, sharedPrefixOf, type ProxyResources } from "./translate/translate.js";

interface EncodedPart {
  resources: Map<string, AnyValue>;
  digests: string;
}

const KEYS: Record<ResourceKind, keyof ProxyResources | undefined> = { cluster: "clusters", endpoint: "endpoints", listener: "listeners", route: "routes", secret: undefined };

export class SnapshotEncoder {
  /**
   * Encodings by type URL, then by the SHA-256 of the resource's JSON, for this generation and the one before. The
   * digest, not the JSON, is the key: resources unique to one proxy (its listeners carry its identity in tracing
   * tags) would otherwise keep their whole text alive, and hashing it once serves both the key and the version.
   */
  private current = new Map<string, Map<string, AnyValue>>();
  private previous = new Map<string, Map<string, AnyValue>>();
  /** Shared resource objects (never mutated once built: see push-cache.ts) -> their digest and encoding. */
  private readonly byObject = new WeakMap<object, { digest: string; any: AnyValue }>();
  /** Shared lists of resources (a group of proxies' outbound) -> their encodings. */
  private readonly parts = new WeakMap<object, EncodedPart>();
  /** Resources encoded or found, for the bench and tests: by identity, by digest, newly encoded. */
  readonly stats = { identity: 0, digest: 0, encoded: 0 };

  /** Starts a generation (one pass over every proxy): the last one's encodings stay reusable, older ones go. */
  nextGeneration(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  /** `secrets` are what the control plane serves over SDS: only trust bundles (workload keys never leave their proxy). */
  snapshot(out: ProxyResources, secrets: Array<Record<string, unknown>>): Snapshot {
    const snap: Snapshot = { versions: {}, resources: {} };
    for (const kind of ADS_ORDER) {
      const key = KEYS[kind];
      const list: Array<Record<string, unknown>> = key ? out[key] : secrets;
      if (!key && list.length === 0) continue;
      const typeUrl = TYPE_URL[kind];
      let current = this.current.get(typeUrl);
      if (!current) this.current.set(typeUrl, (current = new Map()));
      const previous = this.previous.get(typeUrl);
      // A prefix the push cache shares among proxies is walked once; each proxy copies its map and adds its own.
      const prefix = key ? sharedPrefixOf(out)?.[key] : undefined;
      const shared = prefix && list.length >= prefix.length ? this.part(kind, typeUrl, prefix, current, previous) : undefined;
      const own = this.part(kind, typeUrl, shared ? list.slice(prefix!.length) : list, current, previous);
      // With nothing of its own (a sidecar's routes and endpoints) the proxy is handed the shared map itself: the
      // ADS server only reads snapshots.
      const resources = !shared ? own.resources : own.resources.size === 0 ? shared.resources : new Map([...shared.resources, ...own.resources]);
      // The kind's version: a hash over its resources' digests, in order.
      snap.versions[kind] = createHash("sha256").update(shared?.digests ?? "").update(own.digests).digest("hex").slice(0, 16);
      snap.resources[kind] = resources;
    }
    return snap;
  }

  /** The encodings of a list of resources by name, and their digests joined; a shared list's are kept by identity. */
  private part(kind: ResourceKind, typeUrl: string, list: Array<Record<string, unknown>>, current: Map<string, AnyValue>, previous: Map<string, AnyValue> | undefined): EncodedPart {
    const known = this.parts.get(list);
    if (known) return known;
    const digests: string[] = [];
    const resources = new Map<string, AnyValue>();
    for (const r of list) {
      const { digest, any } = this.encoding(typeUrl, r, current, previous);
      digests.push(digest);
      resources.set(String(kind === "endpoint" ? r.cluster_name : r.name), any);
    }
    const part = { resources, digests: digests.join("") };
    if (sharedLists.has(list)) this.parts.set(list, part);
    return part;
  }

  private encoding(typeUrl: string, r: Record<string, unknown>, current: Map<string, AnyValue>, previous: Map<string, AnyValue> | undefined): { digest: string; any: AnyValue } {
    const known = this.byObject.get(r);
    if (known) {
      this.stats.identity++;
      if (!current.has(known.digest)) current.set(known.digest, known.any);
      return known;
    }
    const digest = createHash("sha256").update(JSON.stringify(r)).digest("base64");
    let any = current.get(digest) ?? previous?.get(digest);
    if (any) this.stats.digest++;
    else {
      any = encodeAny(typeUrl, r);
      this.stats.encoded++;
    }
    current.set(digest, any);
    const entry = { digest, any };
    this.byObject.set(r, entry);
    return entry;
  }
}
