// A workload's locality (region/zone/subzone) as Istio finds it: the proxy's xDS node locality, a WorkloadEntry's
// `locality` field ("region/zone/subzone"), else the label istio-locality ("region.zone.subzone", as label values
// cannot hold "/"), else the Kubernetes topology labels.
export interface Locality { region: string; zone: string; subzone: string }

/** "region/zone/subzone" (any part may be empty); "" when the workload has no locality. */
export function localityOf(explicit: string | undefined, labels: Record<string, string>): string {
  if (explicit) return normalise(explicit.split("/"));
  const label = labels["istio-locality"];
  if (label) return normalise(label.split("."));
  const region = labels["topology.kubernetes.io/region"] ?? "";
  const zone = labels["topology.kubernetes.io/zone"] ?? "";
  const subzone = labels["topology.istio.io/subzone"] ?? "";
  return region || zone || subzone ? `${region}/${zone}/${subzone}` : "";
}

/** An xDS node's locality (envoy.config.core.v3.Locality) in the same form. */
export function nodeLocality(l: { region?: string; zone?: string; sub_zone?: string } | null | undefined): string | undefined {
  if (!l || (!l.region && !l.zone && !l.sub_zone)) return undefined;
  return `${l.region ?? ""}/${l.zone ?? ""}/${l.sub_zone ?? ""}`;
}

function normalise(parts: string[]): string {
  return `${parts[0] ?? ""}/${parts[1] ?? ""}/${parts.slice(2).join("/")}`;
}

export function parseLocality(s: string | undefined): Locality {
  const [region = "", zone = "", subzone = ""] = (s ?? "").split("/");
  return { region, zone, subzone };
}
