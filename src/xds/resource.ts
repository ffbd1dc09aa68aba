// Envoy resources in and out: type URLs, decoding Any payloads and JSON into canonical objects, encoding for the wire.
import protobuf from "protobufjs";
import { envoyRoot } from "./proto-root.js";
import { lookupTypeUrl, messageFromJson } from "./proto-json.js";
import { validateMessage } from "./proto-validate.js";
import { type Result, fail, ok } from "./result.js";

const PREFIX = "type.googleapis.com/";

export const TYPE_URL = {
  listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  route: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
  cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  endpoint: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  secret: `${PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`,
} as const;

export type ResourceKind = keyof typeof TYPE_URL;

/** ADS order (go-control-plane's): clusters, then endpoints, listeners, routes, secrets. */
export const ADS_ORDER: ResourceKind[] = ["cluster", "endpoint", "listener", "route", "secret"];

export function typeUrlOf(fullName: string): string {
  return PREFIX + fullName;
}

export function kindOfTypeUrl(typeUrl: string): ResourceKind | undefined {
  for (const [kind, url] of Object.entries(TYPE_URL)) if (url === typeUrl) return kind as ResourceKind;
  return undefined;
}

/**
 * How decoded messages look in memory: proto field names (snake_case), enums as their names, 64-bit integers as
 * numbers, defaults filled in (unset messages are null), and the name of the chosen member of each oneof.
 * Any stays `{type_url, value}`; decode it with `decodeAny` where its type matters.
 */
export const CANONICAL: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, objects: true, oneofs: true };

/** An Any as it sits in a decoded message. */
export interface AnyValue {
  type_url: string;
  value: Uint8Array;
}

function messageType(fullName: string): protobuf.Type {
  return envoyRoot().lookupType(fullName);
}

/** Decodes and validates a wire payload of the type that `typeUrl` names. */
export function decodeAny<T = Record<string, unknown>>(any: AnyValue, path = ""): Result<T> {
  const type = lookupTypeUrl(any.type_url);
  if (!type) return fail(path, `unknown type "${any.type_url}"; Trellis does not support this extension`);
  let message: protobuf.Message;
  try {
    message = type.decode(any.value);
  } catch (err) {
    return fail(path, `cannot decode ${any.type_url}: ${(err as Error).message}`);
  }
  const errors = validateMessage(type, type.toObject(message, { defaults: true, arrays: true, objects: true, oneofs: true }), path);
  if (errors.length > 0) return { ok: false, errors };
  return ok(type.toObject(message, CANONICAL) as T);
}

/** Reads a message of type `fullName` from proto3 JSON (as Envoy's YAML and JSON configs write it) and validates it. */
export function parseMessage<T = Record<string, unknown>>(fullName: string, json: unknown, path = ""): Result<T> {
  const type = messageType(fullName);
  const { message, errors } = messageFromJson(type, json, path);
  if (!message) return { ok: false, errors };
  const bytes = type.encode(message).finish();
  return decodeAny<T>({ type_url: typeUrlOf(fullName), value: bytes }, path);
}

/** Encodes a message given as proto3 JSON or a canonical object into an Any for the wire. Throws on invalid input (server side only). */
export function encodeAny(typeUrl: string, json: unknown): AnyValue {
  const type = lookupTypeUrl(typeUrl);
  if (!type) throw new Error(`unknown type "${typeUrl}"`);
  const { message, errors } = messageFromJson(type, json);
  if (!message) throw new Error(`invalid ${typeUrl}: ${errors.map((e) => `${e.path}: ${e.message}`).join("; ")}`);
  return { type_url: typeUrl, value: type.encode(message).finish() };
}

/** Renders a decoded message as proto3 JSON (durations as "5s", Any with "@type"), as Envoy's config_dump does. */
export function toProto3Json(fullName: string, obj: unknown): unknown {
  return messageJson(messageType(fullName), obj);
}

function messageJson(type: protobuf.Type, obj: unknown): unknown {
  if (obj === null || obj === undefined) return undefined;
  const o = obj as Record<string, unknown>;
  switch (type.fullName) {
    case ".google.protobuf.Duration": {
      const total = Number(o.seconds ?? 0) + Number(o.nanos ?? 0) / 1e9;
      return `${Number(total.toFixed(9))}s`;
    }
    case ".google.protobuf.Any": {
      const inner = lookupTypeUrl(String(o.type_url));
      if (!inner || !(o.value instanceof Uint8Array)) return { "@type": o.type_url };
      const decoded = inner.toObject(inner.decode(o.value), { ...CANONICAL, defaults: false });
      const body = messageJson(inner, decoded);
      return body && typeof body === "object" && !Array.isArray(body) ? { "@type": o.type_url, ...body } : { "@type": o.type_url, value: body };
    }
    case ".google.protobuf.Struct":
    case ".google.protobuf.Value":
    case ".google.protobuf.ListValue":
      return protobuf.util.isObject(o) ? type.toObject(type.fromObject(o), { json: true }) : o;
  }
  if (type.fullName.startsWith(".google.protobuf.") && type.fields.value && Object.keys(type.fields).length === 1) return o.value;
  const out: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const v = o[field.name];
    if (v === undefined || v === null) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (field.partOf === undefined && !field.repeated && !field.map && (v === 0 || v === "" || v === false) && !(field.resolvedType instanceof protobuf.Type)) continue;
    field.resolve();
    const sub = field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
    const conv = (x: unknown) => (sub ? messageJson(sub, x) : x instanceof Uint8Array ? Buffer.from(x).toString("base64") : x);
    if (field.map) out[field.name] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, conv(x)]));
    else if (Array.isArray(v)) out[field.name] = v.map(conv);
    else out[field.name] = conv(v);
  }
  return out;
}
