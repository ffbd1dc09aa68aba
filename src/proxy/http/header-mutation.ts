// Request and response header changes (headers_to_add / headers_to_remove), compiled once per route.
import { safeFieldValue } from "../http1/head-parser.js";
import type { HeaderValueOption__Output } from "../../xds/generated/envoy/config/core/v3/HeaderValueOption.js";

type HeaderMap = Record<string, string | string[] | undefined>;

interface Op {
  name: string;
  value: string;
  action: "APPEND_IF_EXISTS_OR_ADD" | "ADD_IF_ABSENT" | "OVERWRITE_IF_EXISTS_OR_ADD" | "OVERWRITE_IF_EXISTS";
  keepEmpty: boolean;
}

export interface HeaderMutation {
  readonly empty: boolean;
  apply(headers: HeaderMap): void;
}

export const NO_MUTATION: HeaderMutation = { empty: true, apply: () => {} };

/** A field name (RFC 9110 token, or a pseudo-header), as Envoy's HTTP_HEADER_NAME rule checks it. */
const HEADER_NAME = /^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function toOp(o: HeaderValueOption__Output): Op | undefined {
  if (!o.header) return undefined;
  const value = o.header.value || (o.header.raw_value?.length ? Buffer.from(o.header.raw_value).toString("latin1") : "");
  // Headers are written to the wire as configured: a CR or LF here would start a header (or a request) of its own.
  if (!HEADER_NAME.test(o.header.key)) throw new Error(`header name ${JSON.stringify(o.header.key)} is not a valid HTTP field name (letters, digits and !#$%&'*+-.^_\`|~ only)`);
  if (!safeFieldValue(value)) throw new Error(`the value of header ${o.header.key} holds a CR, LF or NUL byte, which HTTP/1.1 cannot carry`);
  // The deprecated `append` flag, when set, wins over append_action (Envoy's rule): true appends, false overwrites.
  const action = o.append ? (o.append.value ? "APPEND_IF_EXISTS_OR_ADD" : "OVERWRITE_IF_EXISTS_OR_ADD") : o.append_action;
  return { name: o.header.key.toLowerCase(), value, action, keepEmpty: o.keep_empty_value };
}

/**
 * Levels are given most specific first (route, virtual host, route configuration); they apply in that order, so
 * a less specific "set" overwrites a more specific one, as Envoy does by default.
 */
export function compileHeaderMutation(levels: Array<{ add: HeaderValueOption__Output[]; remove: string[] }>): HeaderMutation {
  for (const l of levels) for (const r of l.remove) if (!HEADER_NAME.test(r)) throw new Error(`header name ${JSON.stringify(r)} to remove is not a valid HTTP field name`);
  const steps: Array<{ ops: Op[]; remove: string[] }> = levels.map((l) => ({ ops: l.add.map(toOp).filter((o): o is Op => o !== undefined), remove: l.remove.map((r) => r.toLowerCase()) }));
  if (steps.every((s) => s.ops.length === 0 && s.remove.length === 0)) return NO_MUTATION;
  return {
    empty: false,
    apply(headers: HeaderMap) {
      for (const step of steps) {
        for (const op of step.ops) {
          if (op.value === "" && !op.keepEmpty) continue;
          const cur = headers[op.name];
          switch (op.action) {
            case "APPEND_IF_EXISTS_OR_ADD":
              headers[op.name] = cur === undefined ? op.value : Array.isArray(cur) ? [...cur, op.value] : `${cur},${op.value}`;
              break;
            case "ADD_IF_ABSENT":
              if (cur === undefined) headers[op.name] = op.value;
              break;
            case "OVERWRITE_IF_EXISTS_OR_ADD":
              headers[op.name] = op.value;
              break;
            case "OVERWRITE_IF_EXISTS":
              if (cur !== undefined) headers[op.name] = op.value;
              break;
          }
        }
        for (const r of step.remove) delete headers[r];
      }
    },
  };
}
