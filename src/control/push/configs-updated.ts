// What changed since the last recompute (Istio's ConfigsUpdated): the hosts whose built resources are stale, or
// "everything" when a change cannot be pinned to hosts. Found by comparing contents, not by listening to events, so
// it holds for every store (file, etcd, Kubernetes) and for the registry's workloads alike.
import type { IstioResource } from "../../api/resource.js";
import { fqdn, type Service } from "../translate/services.js";

export interface ConfigsUpdated {
  /** Everything may have changed: every proxy is translated afresh. */
  full: boolean;
  /** Why it is full (the first change that made it so), for logs and tests. */
  reason?: string;
  /** Hosts whose services, routes or policies changed (empty and not full: nothing changed). */
  hosts: Set<string>;
  /** Resources added, changed or removed, and services whose endpoints or ports changed. */
  configs: number;
  services: number;
}

/** Kinds whose effect on translation is limited to the hosts they name; any other kind's change is full. */
const HOST_SCOPED = new Set(["VirtualService", "DestinationRule", "ServiceEntry", "WorkloadEntry"]);

function keyOf(r: IstioResource): string {
  return `${r.apiVersion}|${r.kind}|${r.metadata.namespace ?? ""}|${r.metadata.name}`;
}

/** The hosts a changed resource touches; undefined when they cannot be pinned down (a wildcard). */
function hostsOf(r: IstioResource): string[] | undefined {
  const ns = r.metadata.namespace ?? "default";
  const spec = (r.spec ?? {}) as { hosts?: unknown; host?: unknown };
  // ServiceEntries and WorkloadEntries act through the services they make; the service comparison sees those.
  if (r.kind === "ServiceEntry" || r.kind === "WorkloadEntry") return [];
  const hosts = r.kind === "DestinationRule" ? [spec.host] : Array.isArray(spec.hosts) ? spec.hosts : [];
  if (hosts.some((h) => typeof h !== "string" || h.includes("*"))) return undefined;
  return (hosts as string[]).map((h) => fqdn(h, ns));
}

export class ChangeTracker {
  private resources = new Map<string, { object: IstioResource; text: string }>();
  private services = new Map<string, string>();
  private vips = new Map<string, string>();
  private primed = false;

  /** Compares with the last call's state and remembers this one. The first call is full. */
  diff(resources: IstioResource[], services: Map<string, Service>, vips: Map<string, string>): ConfigsUpdated {
    const out: ConfigsUpdated = { full: !this.primed, reason: this.primed ? undefined : "first push", hosts: new Set(), configs: 0, services: 0 };
    // Stores hand out the same object until it is written again: only a new object is serialized and compared.
    const next = new Map<string, { object: IstioResource; text: string }>();
    for (const r of resources) {
      const key = keyOf(r);
      const before = this.resources.get(key);
      next.set(key, before?.object === r ? before : { object: r, text: JSON.stringify(r) });
    }
    const touched = (r: IstioResource) => {
      out.configs++;
      const hosts = HOST_SCOPED.has(r.kind) ? hostsOf(r) : undefined;
      if (hosts) for (const h of hosts) out.hosts.add(h);
      else if (!out.full) Object.assign(out, { full: true, reason: `${r.kind} ${r.metadata.namespace ?? ""}/${r.metadata.name} changed` });
    };
    for (const [key, now] of next) {
      const before = this.resources.get(key);
      if (before?.text === now.text) continue;
      touched(now.object);
      if (before) touched(JSON.parse(before.text) as IstioResource);
    }
    for (const [key, before] of this.resources) if (!next.has(key)) touched(JSON.parse(before.text) as IstioResource);
    this.resources = next;
    const sigs = new Map<string, string>();
    for (const [host, s] of services) sigs.set(host, JSON.stringify(s));
    out.services = changedKeys(this.services, sigs, out.hosts);
    changedKeys(this.vips, vips, out.hosts);
    this.services = sigs;
    this.vips = new Map(vips);
    this.primed = true;
    return out;
  }
}

/** Adds to `into` every key whose value differs between the two maps; returns how many. */
function changedKeys(before: Map<string, string>, after: Map<string, string>, into: Set<string>): number {
  const changed = [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
  for (const k of before.keys()) if (!after.has(k)) changed.push(k);
  for (const k of changed) into.add(k);
  return changed.length;
}
