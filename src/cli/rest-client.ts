// A small client for the control plane's REST API, shared by apply, get, delete and proxy-status.
import { findKind, type KindInfo } from "../api/kinds.js";

export function controlAddress(flag: string | undefined): string {
  const addr = flag ?? process.env.TRELLIS_CONTROL ?? "127.0.0.1:15014";
  return addr.startsWith("http") ? addr : `http://${addr}`;
}

export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

export async function call(base: string, method: string, path: string, body?: unknown): Promise<ApiResponse> {
  let res: Response;
  try {
    const token = process.env.TRELLIS_TOKEN;
    res = await fetch(base + path, { method, headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new Error(`cannot reach the control plane at ${base} (${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}); start it with \`trellis control\` or set --control / TRELLIS_CONTROL`, { cause: err });
  }
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { message: text };
  }
  return { status: res.status, body: parsed };
}

export function resourcePath(info: KindInfo, namespace: string | undefined, name?: string): string {
  const base = `/apis/${info.group}/${info.versions[0]}`;
  const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : "";
  return `${base}${ns}/${info.plural}${name ? `/${encodeURIComponent(name)}` : ""}`;
}

export function kindOrExit(name: string): KindInfo {
  const info = findKind(name);
  if (!info) throw new Error(`unknown kind "${name}"; use one of virtualservices (vs), destinationrules (dr), gateways (gw), serviceentries (se), workloadentries (we), sidecars, peerauthentications (pa), authorizationpolicies (ap), requestauthentications (ra)`);
  return info;
}
