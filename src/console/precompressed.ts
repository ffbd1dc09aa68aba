// Picks the copy of a console file to send: the build writes FILE.br and FILE.gz beside each text asset, and the
// browser's Accept-Encoding (with its q-values) says which it takes.
import { existsSync } from "node:fs";

/** The encodings a request accepts, from its Accept-Encoding header (q=0 refuses one). */
export function acceptedEncodings(header: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (header ?? "").split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (name && !(q && Number(q.slice(2)) === 0)) out.add(name);
  }
  return out;
}

export function precompressed(file: string, acceptEncoding: string | undefined): { file: string; encoding?: "br" | "gzip" } {
  const accepted = acceptedEncodings(acceptEncoding);
  if (accepted.has("br") && existsSync(`${file}.br`)) return { file: `${file}.br`, encoding: "br" };
  if (accepted.has("gzip") && existsSync(`${file}.gz`)) return { file: `${file}.gz`, encoding: "gzip" };
  return { file };
}
