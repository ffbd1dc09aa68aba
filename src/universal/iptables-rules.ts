// The interception rules istio-iptables installs, as a pure list of iptables-restore lines for one workload namespace.
export interface InterceptionPlan {
  /** Sidecar's outbound capture port (Istio: 15001). */
  outboundPort: number;
  /** Sidecar's inbound capture port (Istio: 15006). */
  inboundPort: number;
  /** The uid the sidecar runs as: its own traffic is never captured, so it can reach the real destination. */
  proxyUid?: number;
  /** Or the gid it runs as (istio-iptables' --gid-owner), which lets the sidecar keep root's uid to read its files. */
  proxyGid?: number;
  /** Inbound ports to capture ("*" = all but the excluded ones). */
  inboundPorts: number[] | "*";
  /** Ports never captured inbound (the sidecar's own admin, stats and health ports). */
  excludeInboundPorts: number[];
  /** CIDRs whose outbound traffic is captured (Istio's default "*"). */
  outboundCidrs: string[] | "*";
  /** CIDRs never captured outbound (istio-iptables -x). */
  excludeOutboundCidrs?: string[];
  /** Destination ports never captured outbound (-o). */
  excludeOutboundPorts?: number[];
  /** Destination ports captured outbound whatever the CIDRs say (-q). */
  includeOutboundPorts?: number[];
}

/**
 * Rules in Istio's chain names (ISTIO_INBOUND, ISTIO_IN_REDIRECT, ISTIO_OUTPUT, ISTIO_REDIRECT) so that people who
 * know istio-iptables can read them. Traffic from the proxy's uid passes untouched; loopback traffic the app sends
 * to itself is not captured unless it was addressed to a non-local IP.
 */
export function interceptionRules(plan: InterceptionPlan): string {
  if (plan.proxyUid === undefined && plan.proxyGid === undefined) throw new Error("interception needs the proxy's uid or gid, or it would capture its own traffic");
  const lines = [
    "*nat",
    ":ISTIO_INBOUND - [0:0]",
    ":ISTIO_IN_REDIRECT - [0:0]",
    ":ISTIO_OUTPUT - [0:0]",
    ":ISTIO_REDIRECT - [0:0]",
    `-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ${plan.outboundPort}`,
    `-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${plan.inboundPort}`,
    "-A PREROUTING -p tcp -j ISTIO_INBOUND",
  ];
  for (const port of plan.excludeInboundPorts) lines.push(`-A ISTIO_INBOUND -p tcp --dport ${port} -j RETURN`);
  if (plan.inboundPorts === "*") lines.push("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT");
  else for (const port of plan.inboundPorts) lines.push(`-A ISTIO_INBOUND -p tcp --dport ${port} -j ISTIO_IN_REDIRECT`);
  lines.push(
    "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
    // The proxy's own connections go where they were addressed.
    ...(plan.proxyUid !== undefined ? [`-A ISTIO_OUTPUT -m owner --uid-owner ${plan.proxyUid} -j RETURN`] : []),
    ...(plan.proxyGid !== undefined ? [`-A ISTIO_OUTPUT -m owner --gid-owner ${plan.proxyGid} -j RETURN`] : []),
    // The app talking to itself over loopback stays local.
    "-A ISTIO_OUTPUT -o lo -d 127.0.0.1/32 -j RETURN",
  );
  // istio-iptables' order: excluded ports, then included ports, then excluded and included CIDRs.
  for (const port of plan.excludeOutboundPorts ?? []) lines.push(`-A ISTIO_OUTPUT -p tcp --dport ${port} -j RETURN`);
  for (const port of plan.includeOutboundPorts ?? []) lines.push(`-A ISTIO_OUTPUT -p tcp --dport ${port} -j ISTIO_REDIRECT`);
  for (const cidr of plan.excludeOutboundCidrs ?? []) lines.push(`-A ISTIO_OUTPUT -d ${cidr} -j RETURN`);
  if (plan.outboundCidrs === "*") lines.push("-A ISTIO_OUTPUT -j ISTIO_REDIRECT");
  else for (const cidr of plan.outboundCidrs) lines.push(`-A ISTIO_OUTPUT -d ${cidr} -j ISTIO_REDIRECT`);
  lines.push("COMMIT", "");
  return lines.join("\n");
}
