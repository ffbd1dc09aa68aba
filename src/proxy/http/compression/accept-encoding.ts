// Accept-Encoding negotiation (RFC 9110 12.5.3) as Envoy's compressor does it: the q-value each offered coding gets,
// with "*" for any coding not named and q=0 meaning "not acceptable".
export function acceptedQuality(header: string | undefined, encoding: string): number {
  if (!header) return 0;
  let star: number | undefined;
  for (const part of header.split(",")) {
    const [token, ...params] = part.trim().split(";");
    const name = token.trim().toLowerCase();
    if (!name) continue;
    const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)).find(Boolean);
    const quality = q ? Math.min(1, Math.max(0, Number(q[1]) || 0)) : 1;
    if (name === encoding) return quality;
    if (name === "*") star = quality;
  }
  return star ?? 0;
}
