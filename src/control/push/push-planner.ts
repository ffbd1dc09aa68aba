// Plans each push: builds the push index over the build cache, finds what changed since the last one (drops the
// cached resources it touched) and says which proxies must be translated again. A proxy is skipped only when it is
// an explicit-mode sidecar and none of the changed hosts is one its outbound was decided over; gateways, proxyless
// clients and transparent sidecars (told about every service, so a new one concerns them) are always translated,
// cheaply, since what did not change comes from the cache.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { isGatewayProxy } from "../translate/gateway-servers.js";
import { ChangeTracker, type ConfigsUpdated } from "./configs-updated.js";
import { PushCache } from "./push-cache.js";
import { PushIndex } from "./push-index.js";

export interface PushPlan {
  index: PushIndex;
  changes: ConfigsUpdated;
}

export class PushPlanner {
  readonly cache = new PushCache();
  private readonly tracker = new ChangeTracker();
  /** Per proxy: the workload it was last configured as, and the hosts that configuration was decided over. */
  private readonly configured = new Map<string, { workload: Workload; hosts: Set<string> }>();
  /** Changes found by a plan made for one connecting proxy, still owed to the others. */
  private owed?: ConfigsUpdated;
  private fullReason?: string;

  /** The next plan translates every proxy afresh (a change the comparison cannot see: keys, secrets, the CA's roots). */
  requestFull(reason: string): void {
    this.fullReason ??= reason;
  }

  /**
   * The index for the current state and what changed since the last plan. `forOne`: made for a connecting proxy,
   * so the changes are kept for the next plan over all proxies.
   */
  plan(resources: IstioResource[], workloads: Workload[], forOne = false): PushPlan {
    const index = new PushIndex(resources, workloads, this.cache);
    const changes = merge(this.tracker.diff(resources, index.services, index.vips, workloads), this.owed);
    this.owed = undefined;
    // Gateway API routes are converted against the services: any change may change what they stand for.
    if (index.gatewayApi.length > 0 && (changes.hosts.size > 0 || changes.configs > 0) && !changes.full) Object.assign(changes, { full: true, reason: "Gateway API routes present" });
    if (this.fullReason && !forOne) {
      Object.assign(changes, { full: true, reason: changes.reason ?? this.fullReason });
      this.fullReason = undefined;
    }
    if (changes.full) this.cache.clear();
    else this.cache.invalidate(changes.hosts);
    if (forOne) this.owed = changes;
    return { index, changes };
  }

  /** Whether this proxy's configuration may differ from the one it holds. */
  affects(id: string, workload: Workload, changes: ConfigsUpdated, proxyless: boolean): boolean {
    const last = this.configured.get(id);
    if (changes.full || !last || last.workload !== workload) return true;
    if (proxyless || workload.interception === "REDIRECT" || isGatewayProxy(workload)) return changes.hosts.size > 0;
    for (const h of changes.hosts) if (last.hosts.has(h)) return true;
    return false;
  }

  /** Records a proxy's successful configuration. */
  configuredAs(id: string, workload: Workload, hosts: Set<string>): void {
    this.configured.set(id, { workload, hosts });
  }

  forget(id: string): void {
    this.configured.delete(id);
  }
}

function merge(a: ConfigsUpdated, b: ConfigsUpdated | undefined): ConfigsUpdated {
  if (!b) return a;
  return { full: a.full || b.full, reason: a.reason ?? b.reason, hosts: new Set([...a.hosts, ...b.hosts]), configs: a.configs + b.configs, services: a.services + b.services };
}
