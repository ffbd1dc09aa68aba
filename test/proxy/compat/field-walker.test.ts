// Walks every field of every Envoy message the proxy accepts and fails if one is neither honoured (listed in
// honoured-fields.ts) nor refused by name when set; also that the table names only real fields and covers every
// message reachable through an honoured field and every registered HTTP filter's config.
import assert from "node:assert/strict";
import { test } from "node:test";
import protobuf from "protobufjs";
import { HONOURED } from "../../../src/proxy/config/honoured-fields.js";
import { honouredFields, unhonouredFields } from "../../../src/proxy/config/field-check.js";
import { registeredFilterTypes } from "../../../src/proxy/http/filter.js";
import "../../../src/proxy/http/filters/index.js";
import { envoyRoot } from "../../../src/xds/proto-root.js";
import { CANONICAL } from "../../../src/xds/resource.js";

const ROOTS = [
  "envoy.config.bootstrap.v3.Bootstrap", "envoy.config.listener.v3.Listener", "envoy.config.cluster.v3.Cluster",
  "envoy.config.route.v3.RouteConfiguration", "envoy.config.endpoint.v3.ClusterLoadAssignment", "envoy.extensions.transport_sockets.tls.v3.Secret",
];

function type(name: string): protobuf.Type {
  return envoyRoot().lookupType(name);
}

/** Every message type reachable from the roots and the table's extension types, through honoured fields only. */
function reachable(): Set<string> {
  const seen = new Set<string>();
  const queue = [...ROOTS, ...Object.keys(HONOURED)];
  while (queue.length) {
    const name = queue.shift()!;
    if (seen.has(name) || name.startsWith("google.protobuf.")) continue;
    seen.add(name);
    const t = type(name);
    for (const field of t.fieldsArray) {
      field.resolve();
      if (field.resolvedType instanceof protobuf.Type && honouredFields(name)?.has(field.name)) queue.push(field.resolvedType.fullName.slice(1));
    }
  }
  return seen;
}

/** A value that counts as set for `field`: one element, a non-default scalar or enum, an empty message. */
function setValue(field: protobuf.Field): unknown {
  field.resolve();
  const one = (): unknown => {
    if (field.resolvedType instanceof protobuf.Type) return field.resolvedType.fullName === ".google.protobuf.Any" ? { type_url: "", value: new Uint8Array() } : field.resolvedType.toObject(field.resolvedType.create(), CANONICAL);
    const en = field.resolvedType;
    if (en instanceof protobuf.Enum) return Object.keys(en.values).find((k) => en.values[k] !== 0)!;
    switch (field.type) {
      case "string": return "x";
      case "bool": return true;
      case "bytes": return new Uint8Array([1]);
      default: return 1;
    }
  };
  if (field.map) return { k: one() };
  if (field.repeated) return [one()];
  return one();
}

test("every reachable message type is classified, and the table names only fields that exist", () => {
  const missing: string[] = [];
  const stale: string[] = [];
  for (const name of reachable()) {
    const honoured = honouredFields(name);
    if (!honoured) { missing.push(name); continue; }
    const t = type(name);
    for (const f of honoured) if (!t.fields[f]) stale.push(`${name}.${f}`);
  }
  assert.deepEqual(missing, [], "message types reachable through an honoured field but absent from honoured-fields.ts");
  assert.deepEqual(stale, [], "honoured-fields.ts names fields the protos do not have");
});

test("every registered HTTP filter's config type is classified field by field", () => {
  for (const url of registeredFilterTypes()) assert.ok(honouredFields(url.slice(url.lastIndexOf("/") + 1)), `${url} is missing from honoured-fields.ts`);
});

test("every field that is not honoured is refused by name when set", () => {
  const silent: string[] = [];
  let checked = 0;
  for (const name of reachable()) {
    const t = type(name);
    const honoured = honouredFields(name)!;
    for (const field of t.fieldsArray) {
      if (honoured.has(field.name)) continue;
      const obj = t.toObject(t.create(), CANONICAL) as Record<string, unknown>;
      obj[field.name] = setValue(field);
      if (field.partOf) obj[field.partOf.name] = field.name;
      const errors = unhonouredFields(name, obj, "m");
      checked++;
      if (!errors.some((e) => e.path === `m.${field.name}`)) silent.push(`${name}.${field.name}`);
    }
  }
  assert.deepEqual(silent, [], "fields set without being refused");
  assert.ok(checked > 300, `walked ${checked} unhonoured fields`);
});

test("an Any carrying an extension the proxy does not implement is refused by its type name", () => {
  const errors = unhonouredFields("envoy.config.listener.v3.Filter", { name: "envoy.filters.network.redis_proxy", typed_config: { type_url: "type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy", value: new Uint8Array() }, config_type: "typed_config" }, "f");
  assert.match(errors[0]?.message ?? "", /redis_proxy\.v3\.RedisProxy is not supported/);
});
