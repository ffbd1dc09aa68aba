// Which Gateway API kinds the cluster serves, and at which version: their CRDs are installed apart from Istio's (the
// Gateway API's own release, or `trellis install-crds --gateway-api`), often not at all, and a release may serve
// only some of the versions Trellis reads. Asked of the API server's discovery, one request per group version.
import { KINDS, type KindInfo } from "../../api/kinds.js";
import { type KubeClient, KubeApiError } from "./client.js";

export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

export const GATEWAY_API_KINDS: readonly KindInfo[] = KINDS.filter((k) => k.group === GATEWAY_API_GROUP);

/** Each Gateway API kind the cluster serves -> the first of Trellis's versions for it that is served. */
export async function servedGatewayApiKinds(client: KubeClient): Promise<Map<KindInfo, string>> {
  const plurals = new Map<string, Set<string>>();
  const servedAt = async (version: string) => {
    if (!plurals.has(version)) {
      try {
        const list = await client.get<{ resources?: Array<{ name: string }> }>(`/apis/${GATEWAY_API_GROUP}/${version}`);
        plurals.set(version, new Set((list.resources ?? []).map((r) => r.name)));
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 404)) throw err;
        plurals.set(version, new Set());
      }
    }
    return plurals.get(version)!;
  };
  const out = new Map<KindInfo, string>();
  for (const info of GATEWAY_API_KINDS) {
    for (const version of info.versions) {
      if ((await servedAt(version)).has(info.plural)) {
        out.set(info, version);
        break;
      }
    }
  }
  return out;
}
