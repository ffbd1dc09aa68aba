// Reads the server name (SNI) and the offered application protocols (ALPN) from a TLS ClientHello without
// terminating TLS, as Envoy's tls_inspector does, so filter chains can be chosen on them (TLS passthrough by SNI).

export interface ClientHello {
  serverName?: string;
  alpn: string[];
}

/** How many bytes of the first record are needed before the ClientHello can be read (undefined: not TLS). */
export function clientHelloLength(bytes: Buffer): number | undefined {
  if (bytes.length < 5 || bytes[0] !== 0x16) return undefined;
  return 5 + bytes.readUInt16BE(3);
}

/**
 * Parses the ClientHello in `bytes` (a whole TLS record). Anything malformed gives no SNI and no ALPN rather than
 * an error: the TLS handshake itself will say what is wrong with it.
 */
export function parseClientHello(bytes: Buffer): ClientHello {
  const out: ClientHello = { alpn: [] };
  try {
    let p = 5;
    if (bytes[p] !== 0x01) return out; // not a ClientHello
    const end = Math.min(bytes.length, p + 4 + bytes.readUIntBE(p + 1, 3));
    p += 4 + 2 + 32; // handshake header, client_version, random
    p += 1 + bytes[p]; // session_id
    p += 2 + bytes.readUInt16BE(p); // cipher_suites
    p += 1 + bytes[p]; // compression_methods
    if (p + 2 > end) return out;
    const extEnd = Math.min(end, p + 2 + bytes.readUInt16BE(p));
    p += 2;
    while (p + 4 <= extEnd) {
      const type = bytes.readUInt16BE(p);
      const len = bytes.readUInt16BE(p + 2);
      const data = bytes.subarray(p + 4, Math.min(extEnd, p + 4 + len));
      if (type === 0 && data.length >= 5 && data[2] === 0) {
        // server_name_list: the first host_name entry
        const nameLen = data.readUInt16BE(3);
        out.serverName = data.subarray(5, 5 + nameLen).toString("ascii").toLowerCase();
      } else if (type === 16 && data.length >= 2) {
        const listEnd = Math.min(data.length, 2 + data.readUInt16BE(0));
        for (let q = 2; q < listEnd;) {
          const n = data[q];
          out.alpn.push(data.subarray(q + 1, q + 1 + n).toString("ascii"));
          q += 1 + n;
        }
      }
      p += 4 + len;
    }
  } catch {
    // truncated: what was read so far stands
  }
  return out;
}

/** Envoy's server_names: exact, or "*.example.com" for any name under example.com; the most specific wins. */
export function serverNameScore(patterns: string[], name: string | undefined): number {
  if (patterns.length === 0) return 0;
  if (!name) return -1;
  let best = -1;
  for (const p of patterns) {
    const pattern = p.toLowerCase();
    if (pattern === name) return Number.MAX_SAFE_INTEGER;
    if (pattern.startsWith("*.") && name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1) best = Math.max(best, pattern.length);
  }
  return best;
}
