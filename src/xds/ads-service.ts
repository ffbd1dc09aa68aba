// The AggregatedDiscoveryService definition for @grpc/grpc-js, and the plain shapes of its messages.
import * as grpc from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import type { AnyValue } from "./resource.js";
import { PROTO_INCLUDE_DIRS } from "./proto-files.js";

export interface NodeMessage {
  id: string;
  cluster: string;
  metadata: StructMessage | null;
  locality?: { region: string; zone: string; sub_zone: string } | null;
  user_agent_name: string;
}

export interface StructMessage {
  fields: Record<string, ValueMessage>;
}

/** google.protobuf.Value as proto-loader handles it: the well-known types keep protobufjs's camelCase names. */
export interface ValueMessage {
  nullValue?: string;
  numberValue?: number;
  stringValue?: string;
  boolValue?: boolean;
  structValue?: StructMessage;
  listValue?: { values: ValueMessage[] };
  kind?: string;
}

export interface DiscoveryRequest {
  version_info: string;
  node: NodeMessage | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: { code: number; message: string } | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: AnyValue[];
  type_url: string;
  nonce: string;
}

export interface DeltaDiscoveryRequest {
  node: NodeMessage | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  /** xDS-TP dynamic parameters: refused by name (see delta-stream.ts). */
  resource_locators_subscribe?: unknown[];
  resource_locators_unsubscribe?: unknown[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: { code: number; message: string } | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: AnyValue | null;
  aliases?: string[];
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The ADS service (client constructor; `.service` is the definition a server adds). */
export function adsService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const def = loadSync("envoy/service/discovery/v3/ads.proto", { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true, includeDirs: PROTO_INCLUDE_DIRS });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: grpc.ServiceClientConstructor } } } } };
  cached = pkg.envoy.service.discovery.v3.AggregatedDiscoveryService;
  return cached;
}

/** google.protobuf.Struct as proto-loader decodes it (snake_case kinds) -> plain JSON. */
export function structToJson(s: StructMessage | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: ValueMessage): unknown {
  switch (v.kind) {
    case "numberValue": return v.numberValue;
    case "stringValue": return v.stringValue;
    case "boolValue": return v.boolValue;
    case "structValue": return structToJson(v.structValue);
    case "listValue": return (v.listValue?.values ?? []).map(valueToJson);
    default: return null;
  }
}

/** Plain JSON -> google.protobuf.Struct for proto-loader's encoder. */
export function jsonToStruct(o: Record<string, unknown>): StructMessage {
  const fields: Record<string, ValueMessage> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): ValueMessage {
  if (v === null) return { nullValue: "NULL_VALUE" };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}
