// What the xDS client's two protocols share: the options the proxy gives, the resources a response carries decoded
// and checked (type, name), and the contract each protocol meets on a stream the transport (ads-client.ts) opened.
import type * as grpc from "@grpc/grpc-js";
import { decodeAny, type AnyValue, type ResourceKind, TYPE_URL } from "./resource.js";
import type { FieldError, Result } from "./result.js";

export interface XdsClientHandlers {
  node: { id: string; cluster: string; metadata?: Record<string, unknown>; locality?: { region?: string; zone?: string; sub_zone?: string } };
  /**
   * Applies the whole set of a type's resources now held (`removed`: names that left it), all or nothing; an error
   * result is NACKed and the last applied set stays.
   */
  apply(kind: ResourceKind, resources: Map<string, unknown>, removed: string[], version: string): Result<void> | Promise<Result<void>>;
  /** The EDS, RDS and SDS names the applied config needs. */
  subscriptions(): { endpoint: string[]; route: string[]; secret: string[] };
}

/** One protocol's half of a stream: its state outlives the stream, so a new stream resumes from what is held. */
export interface ClientProtocol {
  /** Sends the first requests on a new stream (the node goes in the first). */
  open(call: grpc.ClientDuplexStream<unknown, unknown>): void;
  onResponse(call: grpc.ClientDuplexStream<unknown, unknown>, res: unknown, current: () => boolean): Promise<void>;
  /** Asks for EDS/RDS/SDS names that changed. */
  updateSubscriptions(call: grpc.ClientDuplexStream<unknown, unknown>): void;
  /** The version applied per type. */
  versions(): Partial<Record<ResourceKind, string>>;
}

/** Types whose resources name those of others: after one applies, the others' subscriptions may change. */
export const PARENT_OF: Partial<Record<ResourceKind, ResourceKind[]>> = { cluster: ["endpoint", "secret"], listener: ["route", "secret"] };

/** Types that are wildcard subscriptions (every resource the server has for this node). */
export const WILDCARD: ReadonlySet<ResourceKind> = new Set(["cluster", "listener"]);

export function nameOf(kind: ResourceKind, obj: Record<string, unknown>): string {
  return String(kind === "endpoint" ? obj.cluster_name : obj.name);
}

/** Decodes one resource of a `kind` response; `where` names it in errors (they become the NACK's text). */
export function decodeResource(kind: ResourceKind, any: AnyValue | null | undefined, where: string, errors: FieldError[]): Record<string, unknown> | undefined {
  if (!any) {
    errors.push({ path: where, message: "the resource is missing" });
    return undefined;
  }
  if (any.type_url !== TYPE_URL[kind]) {
    errors.push({ path: where, message: `type ${any.type_url} in a ${TYPE_URL[kind]} response` });
    return undefined;
  }
  const r = decodeAny<Record<string, unknown>>(any, where);
  if (!r.ok) {
    errors.push(...r.errors.map((e) => ({ ...e, path: `${kind} ${e.path}` })));
    return undefined;
  }
  return r.value;
}

/** Runs the handler's apply, turning a throw into an error result. */
export async function applySafely(h: XdsClientHandlers, kind: ResourceKind, resources: Map<string, unknown>, removed: string[], version: string): Promise<Result<void>> {
  try {
    return await h.apply(kind, resources, removed, version);
  } catch (err) {
    return { ok: false, errors: [{ path: "", message: (err as Error).message }] };
  }
}
