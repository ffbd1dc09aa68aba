// envoy.filters.http.compressor: compresses response bodies (gzip or brotli from node:zlib) for clients that accept
// the coding, when the content type and length qualify; several compressors in one chain pick by q-value.
import type { Transform } from "node:stream";
import type { Compressor__Output } from "../../../xds/generated/envoy/extensions/filters/http/compressor/v3/Compressor.js";
import { registerFilter, type FilterStatus, type HttpFilter } from "../filter.js";
import type { StreamContext } from "../stream-context.js";
import { Runtime } from "../../runtime/runtime.js";
import { type CodecLibrary, compressorLibrary } from "../compression/codec-library.js";
import { acceptedQuality } from "../compression/accept-encoding.js";
import { typedConfig } from "../../config/typed-config.js";

const NAME = "envoy.filters.http.compressor";
const TYPE = "type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor";

/** Envoy's default compressible types. */
const DEFAULT_TYPES = [
  "application/javascript", "application/json", "application/xhtml+xml", "image/svg+xml", "text/css", "text/html", "text/plain", "text/xml",
  "application/x-javascript", "text/javascript", "text/x-javascript", "text/ecmascript", "text/js", "text/jscript", "text/x-js", "application/ecmascript", "application/x-json", "application/xml",
];

type Headers = Record<string, string | string[] | undefined>;

interface Settings {
  library: CodecLibrary;
  /** Read per request: the runtime's value for the flag's key, else its default. */
  enabled: () => boolean;
  minLength: number;
  types: Set<string>;
  disableOnEtag: boolean;
  removeAcceptEncoding: boolean;
  chooseFirst: boolean;
}

function compile(c: Compressor__Output, where: string, rt: Runtime): Settings {
  const rd = c.response_direction_config;
  const common = rd?.common_config;
  if (c.request_direction_config && (c.request_direction_config.common_config?.enabled?.default_value?.value ?? true)) {
    throw new Error(`${where}.request_direction_config: compressing request bodies is not supported; remove it (or set common_config.enabled.default_value: false)`);
  }
  const types = common?.content_type.length ? common.content_type : c.content_type.length ? c.content_type : DEFAULT_TYPES;
  return {
    library: compressorLibrary(c.compressor_library, `${where}.compressor_library`),
    enabled: () => rt.flag(common?.enabled?.runtime_key, common?.enabled?.default_value?.value ?? true) && rt.flag(c.runtime_enabled?.runtime_key, c.runtime_enabled?.default_value?.value ?? true),
    minLength: common?.min_content_length?.value ?? c.content_length?.value ?? 30,
    types: new Set(types.map((t) => t.toLowerCase())),
    disableOnEtag: rd?.disable_on_etag_header || c.disable_on_etag_header,
    removeAcceptEncoding: rd?.remove_accept_encoding_header || c.remove_accept_encoding_header,
    chooseFirst: c.choose_first,
  };
}

/** Per request, the compressors in the chain that could serve it; the best-accepted one compresses. */
interface Candidates { list: CompressorFilter[]; acceptEncoding?: string }

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(", ") : v;
}

class CompressorFilter implements HttpFilter {
  readonly name = NAME;

  constructor(private readonly s: Settings) {}

  get encoding(): string {
    return this.s.library.encoding;
  }

  onRequest(ctx: StreamContext): FilterStatus {
    if (!this.s.enabled()) return "continue";
    const meta = (ctx.metadata[NAME] ??= { list: [], acceptEncoding: ctx.view.header("accept-encoding") }) as unknown as Candidates;
    meta.list.push(this);
    if (this.s.removeAcceptEncoding) delete ctx.upstreamHeaders["accept-encoding"];
    return "continue";
  }

  onResponseHeaders(ctx: StreamContext, headers: Headers): void {
    const meta = ctx.metadata[NAME] as unknown as Candidates | undefined;
    if (!meta || this.chosen(meta) !== this || !this.compressible(ctx, headers)) return;
    const vary = one(headers.vary);
    if (!vary || !/(^|,)\s*accept-encoding\s*(,|$)/i.test(vary)) headers.vary = vary ? `${vary}, Accept-Encoding` : "Accept-Encoding";
    headers["content-encoding"] = this.encoding;
    delete headers["content-length"];
    // A strong ETag names exact bytes, which compression changes; a weak one still holds (Envoy keeps only those).
    const etag = one(headers.etag);
    if (etag && !etag.startsWith("W/")) delete headers.etag;
    (ctx.responseTransforms ??= []).push(this.s.library.stream() as Transform);
  }

  /** Highest q-value wins; on a tie, a choose_first compressor, else the first in the chain. */
  private chosen(meta: Candidates): CompressorFilter | undefined {
    let best: CompressorFilter | undefined;
    let bestQ = 0;
    for (const f of meta.list) {
      const q = acceptedQuality(meta.acceptEncoding, f.encoding);
      if (q > bestQ || (q === bestQ && q > 0 && f.s.chooseFirst && !best?.s.chooseFirst)) {
        best = f;
        bestQ = q;
      }
    }
    return best;
  }

  private compressible(ctx: StreamContext, headers: Headers): boolean {
    const status = ctx.responseCode;
    if (ctx.view.method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200) || ctx.grpc) return false;
    if (headers["content-encoding"] !== undefined) return false;
    if (/(^|,)\s*no-transform\s*(,|$)/i.test(one(headers["cache-control"]) ?? "")) return false;
    if (this.s.disableOnEtag && headers.etag !== undefined) return false;
    const length = one(headers["content-length"]);
    if (length !== undefined && Number(length) < this.s.minLength) return false;
    // As Envoy: a response without a content type may be compressed.
    const type = (one(headers["content-type"]) ?? "").split(";")[0].trim().toLowerCase();
    return type === "" || this.s.types.has(type);
  }
}

registerFilter(NAME, TYPE, (any, ctx) => {
  if (!any) throw new Error(`${NAME}: typed_config is required (compressor_library)`);
  const r = typedConfig<Compressor__Output>(any, NAME);
  return new CompressorFilter(compile(r, NAME, ctx.runtime ?? Runtime.fromBootstrap(null, "", "")));
});
