// Per-proxy xDS snapshots from translated resources, encoding each distinct resource once: proxies share most of
// their resources (a namespace's outbound clusters, routes and endpoints), so a push to N proxies encodes what
// changed rather than N copies of everything. Proxies given the same resource also get the same encoded object,
// which lets the ADS server's consistency check decode it once.
import { createHash } from "node:crypto";
import type { Snapshot } from "../xds/ads-server.js";
import { ADS_ORDER, type AnyValue, encodeAny, type ResourceKind, TYPE_URL } from "../xds/resource.js";
import type { ProxyResources } from "./translate/translate.js";

const KEYS: Record<ResourceKind, keyof ProxyResources | undefined> = { cluster: "clusters", endpoint: "endpoints", listener: "listeners", route: "routes", secret: undefined };

export class SnapshotEncoder {
  /**
   * Encodings by type URL, then by the resource's JSON, for this generation and the one before. One map per type
   * keeps the JSON itself as the key: a key built by concatenation would be copied to be hashed, per resource.
   */
  private current = new Map<string, Map<string, AnyValue>>();
  private previous = new Map<string, Map<string, AnyValue>>();

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
      const hash = createHash("sha256");
      const resources = new Map<string, AnyValue>();
      // The version hashes the same text as JSON.stringify(list): "[" + each resource's JSON, comma-separated + "]".
      hash.update("[");
      list.forEach((r, i) => {
        const json = JSON.stringify(r);
        hash.update(i ? `,${json}` : json);
        resources.set(String(kind === "endpoint" ? r.cluster_name : r.name), this.encode(typeUrl, json, r));
      });
      hash.update("]");
      snap.versions[kind] = hash.digest("hex").slice(0, 16);
      snap.resources[kind] = resources;
    }
    return snap;
  }

  private encode(typeUrl: string, json: string, resource: Record<string, unknown>): AnyValue {
    let current = this.current.get(typeUrl);
    if (!current) this.current.set(typeUrl, (current = new Map()));
    let any = current.get(json);
    if (any) return any;
    any = this.previous.get(typeUrl)?.get(json) ?? encodeAny(typeUrl, resource);
    current.set(json, any);
    return any;
  }
}
