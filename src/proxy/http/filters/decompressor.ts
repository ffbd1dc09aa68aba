// envoy.filters.http.decompressor: decompresses response bodies the upstream sent in the library's coding (gzip or
// brotli from node:zlib) and advertises that coding upstream; request bodies are not decompressed (refused by name).
import type { Decompressor__Output } from "../../../xds/generated/envoy/extensions/filters/http/decompressor/v3/Decompressor.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import type { StreamContext } from "../stream-context.js";
import { Runtime } from "../../runtime/runtime.js";
import { type CodecLibrary, decompressorLibrary } from "../compression/codec-library.js";
import { typedConfig } from "../../config/typed-config.js";

const NAME = "envoy.filters.http.decompressor";
const TYPE = "type.googleapis.com/envoy.extensions.filters.http.decompressor.v3.Decompressor";

type Headers = Record<string, string | string[] | undefined>;

interface Settings {
  library: CodecLibrary;
  /** Read per request: the runtime's value for the flag's key, else its default. */
  enabled: () => boolean;
  ignoreNoTransform: boolean;
  advertise: boolean;
}

function compile(c: Decompressor__Output, where: string, rt: Runtime): Settings {
  // Envoy decompresses requests unless told not to; that direction is not implemented, so it must be turned off.
  if (c.request_direction_config?.common_config?.enabled?.default_value?.value !== false) {
    throw new Error(`${where}.request_direction_config: decompressing request bodies is not supported; set request_direction_config.common_config.enabled.default_value: false`);
  }
  const common = c.response_direction_config?.common_config;
  return {
    library: decompressorLibrary(c.decompressor_library, `${where}.decompressor_library`),
    enabled: () => rt.flag(common?.enabled?.runtime_key, common?.enabled?.default_value?.value ?? true),
    ignoreNoTransform: common?.ignore_no_transform_header ?? false,
    advertise: c.request_direction_config?.advertise_accept_encoding?.value ?? true,
  };
}

function codings(v: string | string[] | undefined): string[] {
  return (Array.isArray(v) ? v.join(",") : v ?? "").split(",").map((x) => x.trim().toLowerCase()).filter(Boolean);
}

class DecompressorFilter implements HttpFilter {
  readonly name = NAME;

  constructor(private readonly s: Settings) {}

  onRequest(ctx: StreamContext): FilterStatus {
    if (!this.s.enabled() || !this.s.advertise) return "continue";
    const accepted = codings(ctx.upstreamHeaders["accept-encoding"]);
    if (!accepted.some((c) => c.split(";")[0].trim() === this.s.library.encoding)) {
      ctx.upstreamHeaders["accept-encoding"] = [...accepted, this.s.library.encoding].join(", ");
    }
    return "continue";
  }

  onResponseHeaders(ctx: StreamContext, headers: Headers): void {
    if (!this.s.enabled() || ctx.view.method === "HEAD") return;
    const applied = codings(headers["content-encoding"]);
    // Only the outermost coding (the last applied) can be undone, and only when it is this library's.
    if (applied[applied.length - 1] !== this.s.library.encoding) return;
    const cc = Array.isArray(headers["cache-control"]) ? headers["cache-control"].join(",") : headers["cache-control"] ?? "";
    if (!this.s.ignoreNoTransform && /(^|,)\s*no-transform\s*(,|$)/i.test(cc)) return;
    applied.pop();
    if (applied.length) headers["content-encoding"] = applied.join(", ");
    else delete headers["content-encoding"];
    delete headers["content-length"];
    (ctx.responseTransforms ??= []).push(this.s.library.stream());
  }
}

registerFilter(NAME, TYPE, (any, ctx) => {
  if (!any) throw new Error(`${NAME}: typed_config is required (decompressor_library)`);
  const r = typedConfig<Decompressor__Output>(any, NAME);
  return new DecompressorFilter(compile(r, NAME, ctx.runtime ?? Runtime.fromBootstrap(null, "", "")));
});
