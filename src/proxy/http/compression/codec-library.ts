// The compression libraries the compressor and decompressor filters name (compressor_library /
// decompressor_library), registered by typed_config type: each gives its content-coding and makes node:zlib streams.
import zlib from "node:zlib";
import type { Transform } from "node:stream";
import type { TypedExtensionConfig__Output } from "../../../xds/generated/envoy/config/core/v3/TypedExtensionConfig.js";
import type { Gzip__Output as GzipCompressor__Output } from "../../../xds/generated/envoy/extensions/compression/gzip/compressor/v3/Gzip.js";
import type { Gzip__Output as GzipDecompressor__Output } from "../../../xds/generated/envoy/extensions/compression/gzip/decompressor/v3/Gzip.js";
import type { Brotli__Output as BrotliCompressor__Output } from "../../../xds/generated/envoy/extensions/compression/brotli/compressor/v3/Brotli.js";
import type { Brotli__Output as BrotliDecompressor__Output } from "../../../xds/generated/envoy/extensions/compression/brotli/decompressor/v3/Brotli.js";
import type { AnyValue } from "../../../xds/resource.js";
import { typedConfig } from "../../config/typed-config.js";

export interface CodecLibrary {
  /** The content-coding it produces or reads (Accept-Encoding / Content-Encoding token). */
  encoding: string;
  stream(): Transform;
}

const PREFIX = "type.googleapis.com/envoy.extensions.compression.";
type Build = (any: AnyValue, where: string) => CodecLibrary;

const GZIP_LEVEL: Record<string, number> = { DEFAULT_COMPRESSION: zlib.constants.Z_DEFAULT_COMPRESSION, BEST_SPEED: 1, BEST_COMPRESSION: 9 };
const GZIP_STRATEGY: Record<string, number> = { DEFAULT_STRATEGY: zlib.constants.Z_DEFAULT_STRATEGY, FILTERED: zlib.constants.Z_FILTERED, HUFFMAN_ONLY: zlib.constants.Z_HUFFMAN_ONLY, RLE: zlib.constants.Z_RLE, FIXED: zlib.constants.Z_FIXED };
const BROTLI_MODE: Record<string, number> = { DEFAULT: zlib.constants.BROTLI_MODE_GENERIC, GENERIC: zlib.constants.BROTLI_MODE_GENERIC, TEXT: zlib.constants.BROTLI_MODE_TEXT, FONT: zlib.constants.BROTLI_MODE_FONT };

const compressors = new Map<string, Build>([
  [`${PREFIX}gzip.compressor.v3.Gzip`, (any, where) => {
    const g = typedConfig<GzipCompressor__Output>(any, where);
    // Envoy's defaults: memory level 5, window bits 12, chunk 4096.
    const level = GZIP_LEVEL[g.compression_level] ?? Number(/\d+$/.exec(g.compression_level)?.[0] ?? zlib.constants.Z_DEFAULT_COMPRESSION);
    const opts = { level, strategy: GZIP_STRATEGY[g.compression_strategy], memLevel: g.memory_level?.value ?? 5, windowBits: g.window_bits?.value ?? 12, chunkSize: g.chunk_size?.value ?? 4096 };
    return { encoding: "gzip", stream: () => zlib.createGzip(opts) };
  }],
  [`${PREFIX}brotli.compressor.v3.Brotli`, (any, where) => {
    const b = typedConfig<BrotliCompressor__Output>(any, where);
    const params = {
      [zlib.constants.BROTLI_PARAM_QUALITY]: b.quality?.value ?? 3,
      [zlib.constants.BROTLI_PARAM_MODE]: BROTLI_MODE[b.encoder_mode],
      [zlib.constants.BROTLI_PARAM_LGWIN]: b.window_bits?.value ?? 18,
      [zlib.constants.BROTLI_PARAM_LGBLOCK]: b.input_block_bits?.value ?? 24,
      [zlib.constants.BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING]: b.disable_literal_context_modeling ? 1 : 0,
    };
    return { encoding: "br", stream: () => zlib.createBrotliCompress({ params, chunkSize: b.chunk_size?.value ?? 4096 }) };
  }],
]);

const decompressors = new Map<string, Build>([
  [`${PREFIX}gzip.decompressor.v3.Gzip`, (any, where) => {
    const g = typedConfig<GzipDecompressor__Output>(any, where);
    const ratio = g.max_inflate_ratio?.value ?? 100;
    return { encoding: "gzip", stream: () => boundedInflate(zlib.createGunzip({ windowBits: g.window_bits?.value || 15, chunkSize: g.chunk_size?.value ?? 4096 }), ratio) };
  }],
  [`${PREFIX}brotli.decompressor.v3.Brotli`, (any, where) => {
    const b = typedConfig<BrotliDecompressor__Output>(any, where);
    return { encoding: "br", stream: () => zlib.createBrotliDecompress({ chunkSize: b.chunk_size?.value ?? 4096, params: { [zlib.constants.BROTLI_DECODER_PARAM_DISABLE_RING_BUFFER_REALLOCATION]: b.disable_ring_buffer_reallocation ? 1 : 0 } }) };
  }],
]);

/**
 * Fails the stream once the output outgrows the input by more than `ratio` (Envoy's max_inflate_ratio, 100 by
 * default): a small body that inflates without bound is a decompression bomb.
 */
function boundedInflate(inflate: Transform, ratio: number): Transform {
  let inBytes = 0;
  let outBytes = 0;
  const write = inflate.write.bind(inflate);
  inflate.write = ((chunk: Buffer, ...rest: unknown[]) => {
    inBytes += chunk.length;
    return (write as (c: Buffer, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof inflate.write;
  inflate.on("data", (out: Buffer) => {
    outBytes += out.length;
    if (outBytes > Math.max(inBytes, 1) * ratio) inflate.destroy(new Error(`decompressed body exceeds max_inflate_ratio ${ratio}`));
  });
  return inflate;
}

function build(registry: Map<string, Build>, lib: TypedExtensionConfig__Output | null, where: string): CodecLibrary {
  const any = lib?.typed_config;
  if (!any) throw new Error(`${where}: name a library (typed_config ${[...registry.keys()].map((k) => k.slice("type.googleapis.com/".length)).join(" or ")})`);
  if (any.type_url.includes(".compression.zstd.")) {
    // Node 20's zlib has gzip and brotli; zstd arrived in Node 22.15.
    throw new Error(`${where}.typed_config: zstd is not supported: this Node.js (${process.version}) has no zstd in node:zlib; use gzip or brotli`);
  }
  const b = registry.get(any.type_url);
  if (!b) throw new Error(`${where}.typed_config: ${any.type_url} is not supported (${[...registry.keys()].map((k) => k.slice("type.googleapis.com/".length)).join(", ")} are)`);
  return b(any, `${where}.typed_config`);
}

export function compressorLibrary(lib: TypedExtensionConfig__Output | null, where: string): CodecLibrary {
  return build(compressors, lib, where);
}

export function decompressorLibrary(lib: TypedExtensionConfig__Output | null, where: string): CodecLibrary {
  return build(decompressors, lib, where);
}
