// State-of-the-world xDS on the client side: CDS and LDS as wildcards, then the EDS/RDS/SDS names they need; each
// response is the whole set of its type (for the names asked), applied all or nothing, ACKed with its version or
// NACKed with the error and the last good version.
import * as grpc from "@grpc/grpc-js";
import { type DiscoveryRequest, type DiscoveryResponse, jsonToStruct } from "./ads-service.js";
import { kindOfTypeUrl, type ResourceKind, TYPE_URL } from "./resource.js";
import { type FieldError, formatErrors, type Result } from "./result.js";
import { applySafely, type ClientProtocol, decodeResource, nameOf, PARENT_OF, WILDCARD, type XdsClientHandlers } from "./xds-client-protocol.js";

type Call = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;

export function nodeMessage(n: XdsClientHandlers["node"]): DiscoveryRequest["node"] {
  return { id: n.id, cluster: n.cluster, metadata: jsonToStruct(n.metadata ?? {}), locality: n.locality ? { region: n.locality.region ?? "", zone: n.locality.zone ?? "", sub_zone: n.locality.sub_zone ?? "" } : null, user_agent_name: "trellis" };
}

export class SotwClient implements ClientProtocol {
  private readonly acked = new Map<ResourceKind, string>();
  private readonly known = new Map<ResourceKind, Set<string>>();
  /** Names asked on the current stream, per type. */
  private readonly sentNames = new Map<ResourceKind, string>();
  private first = true;

  constructor(private readonly h: XdsClientHandlers, private readonly kinds: ReadonlySet<ResourceKind>) {}

  versions(): Partial<Record<ResourceKind, string>> {
    return Object.fromEntries(this.acked);
  }

  open(call: grpc.ClientDuplexStream<unknown, unknown>): void {
    this.first = true;
    this.sentNames.clear();
    // Wildcard subscriptions first, with the versions already held, so a reconnect can resume.
    for (const kind of WILDCARD) if (this.kinds.has(kind)) this.request(call as Call, kind, []);
    this.updateSubscriptions(call);
  }

  updateSubscriptions(call: grpc.ClientDuplexStream<unknown, unknown>): void {
    const subs = this.h.subscriptions();
    for (const kind of ["endpoint", "route", "secret"] as const) {
      if (!this.kinds.has(kind)) continue;
      const names = [...new Set(subs[kind])].sort();
      const key = names.join("\n");
      if (this.sentNames.get(kind) === key || (names.length === 0 && !this.sentNames.has(kind))) continue;
      this.request(call as Call, kind, names);
    }
  }

  private request(call: Call, kind: ResourceKind, names: string[], nonce = "", error?: FieldError[]): void {
    this.sentNames.set(kind, names.join("\n"));
    call.write({
      version_info: this.acked.get(kind) ?? "",
      node: this.first ? nodeMessage(this.h.node) : null,
      resource_names: names,
      type_url: TYPE_URL[kind],
      response_nonce: nonce,
      error_detail: error ? { code: grpc.status.INVALID_ARGUMENT, message: formatErrors(error) } : null,
    });
    this.first = false;
  }

  async onResponse(call: grpc.ClientDuplexStream<unknown, unknown>, message: unknown, current: () => boolean): Promise<void> {
    const res = message as DiscoveryResponse;
    const kind = kindOfTypeUrl(res.type_url);
    if (!kind || !this.kinds.has(kind) || !current()) return;
    const names = WILDCARD.has(kind) ? [] : (this.sentNames.get(kind) ?? "").split("\n").filter(Boolean);
    const decoded = new Map<string, unknown>();
    const errors: FieldError[] = [];
    res.resources.forEach((any, i) => {
      const r = decodeResource(kind, any, `resources[${i}]`, errors);
      if (r) decoded.set(nameOf(kind, r), r);
    });
    let result: Result<void> = errors.length ? { ok: false, errors } : { ok: true, value: undefined };
    if (result.ok) {
      const before = this.known.get(kind) ?? new Set<string>();
      result = await applySafely(this.h, kind, decoded, [...before].filter((n) => !decoded.has(n)), res.version_info);
      if (result.ok) {
        this.known.set(kind, new Set(decoded.keys()));
        this.acked.set(kind, res.version_info);
      }
    }
    if (!current()) return;
    this.request(call as Call, kind, names, res.nonce, result.ok ? undefined : result.errors);
    if (result.ok && PARENT_OF[kind]) this.updateSubscriptions(call);
  }
}
