// What changed since the last recompute (Istio's ConfigsUpdated): the hosts whose built resources are stale, or
// "everything" when a change cannot be pinned to hosts. Found by comparing contents, not by listening to events, so
// it holds for every store (file, etcd, Kubernetes) and for the registry's workloads alike.
import type { IstioResource } from "../../api/resource.js";
import type { Workload } from "../registry/registry.js";
import { DOMAIN_SUFFIX, fqdn, type Service } from "../translate/services.js";

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
  private workloads = new Map<string, Workload>();
  private primed = false;

  /** Compares with the last call's state and remembers this one. The first call is full. */
  diff(resources: IstioResource[], services: Map<string, Service>, vips: Map<string, string>, workloads: Workload[]): ConfigsUpdated {
    const out: ConfigsUpdated = { full: !this.primed, reason: this.primed ? undefined : "first push", hosts: new Set(), configs: 0, services: 0 };
    // Stores hand out the same object until it is written again: only a new object is serialized and compared.
    const next = new Map<string, { object: IstioResource; text: string }>();
    for (const r of resources) {
      const key = keyOf(r);
      const before = this.resources.get(key);
      next.set(key, before?.object === r ? before : { object: r, text: JSON.stringify(r) });
    }
    // The services a change may have altered: those of changed ServiceEntries and workloads (undefined: any).
    const moved = this.changedWorkloadHosts(workloads);
    let suspects: Set<string> | undefined = this.primed ? moved : undefined;
    const touched = (r: IstioResource) => {
      out.configs++;
      if (r.kind === "WorkloadEntry") suspects = undefined;
      if (r.kind === "ServiceEntry") for (const h of hostsOfEntry(r)) suspects?.add(h);
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
    out.services = suspects ? this.compareSome(services, suspects, out.hosts) : this.compareAll(services, out.hosts);
    changedKeys(this.vips, vips, out.hosts);
    this.vips = new Map(vips);
    this.primed = true;
    return out;
  }

  /** The hosts of workloads added, removed or changed (registries hand out the same object until it changes). */
  private changedWorkloadHosts(workloads: Workload[]): Set<string> {
    const hosts = new Set<string>();
    const hostOf = (w: Workload) => w.service && hosts.add(`${w.service}.${w.namespace}.svc.${DOMAIN_SUFFIX}`);
    const next = new Map<string, Workload>();
    for (const w of workloads) {
      next.set(w.id, w);
      const before = this.workloads.get(w.id);
      if (before === w) continue;
      hostOf(w);
      if (before) hostOf(before);
    }
    for (const [id, w] of this.workloads) if (!next.has(id)) hostOf(w);
    this.workloads = next;
    return hosts;
  }

  /** Compares every service with its last serialization. */
  private compareAll(services: Map<string, Service>, into: Set<string>): number {
    const sigs = new Map<string, string>();
    for (const [host, s] of services) sigs.set(host, JSON.stringify(s));
    const n = changedKeys(this.services, sigs, into);
    this.services = sigs;
    return n;
  }

  /** Compares only the services of these hosts: nothing else can have changed. */
  private compareSome(services: Map<string, Service>, hosts: Set<string>, into: Set<string>): number {
    let n = 0;
    for (const host of hosts) {
      const s = services.get(host);
      const sig = s ? JSON.stringify(s) : undefined;
      if (sig === this.services.get(host)) continue;
      if (sig === undefined) this.services.delete(host);
      else this.services.set(host, sig);
      into.add(host);
      n++;
    }
    return n;
  }
}

/** A ServiceEntry's hosts as written and fully qualified (its services are named by the first, lookups use both). */
function hostsOfEntry(r: IstioResource): string[] {
  const hosts = ((r.spec ?? {}) as { hosts?: unknown }).hosts;
  const ns = r.metadata.namespace ?? "default";
  return Array.isArray(hosts) ? hosts.filter((h): h is string => typeof h === "string").flatMap((h) => [h, fqdn(h, ns)]) : [];
}

/** Adds to `into` every key whose value differs between the two maps; returns how many. */
function changedKeys(before: Map<string, string>, after: Map<string, string>, into: Set<string>): number {
  const changed = [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
  for (const k of before.keys()) if (!after.has(k)) changed.push(k);
  for (const k of changed) into.add(k);
  return changed.length;
}
