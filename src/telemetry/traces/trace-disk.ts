// `--trace-store DIR`: the span batches the trace store takes, appended as JSON lines to segment files (0600, in a
// 0700 directory) so traces survive a restart; bounded in bytes by dropping whole oldest segments, and read back in
// order at start. Writes are buffered by a stream, so the OTLP intake never waits for the disk.
import { chmodSync, createWriteStream, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import type { OtlpBatch, OtlpSpan } from "../../xds/otlp-trace.js";

const SEGMENT = /^spans-(\d{12})\.jsonl$/;
const SEGMENTS_PER_BOUND = 8;
/** The trace store's default byte budget, on disk as in memory. */
export const DEFAULT_TRACE_BYTES = 256 * 1024 * 1024;

export interface TraceDiskStats {
  segments: number;
  bytes: number;
  maxBytes: number;
  droppedSegments: number;
  unreadableLines: number;
}

type StoredSpanJson = Omit<OtlpSpan, "startTimeUnixNano" | "endTimeUnixNano"> & { startTimeUnixNano: string; endTimeUnixNano: string };

function toJson(batches: OtlpBatch[]): string {
  return JSON.stringify(batches.map((b) => ({ resource: b.resource, spans: b.spans.map((s) => ({ ...s, startTimeUnixNano: String(s.startTimeUnixNano), endTimeUnixNano: String(s.endTimeUnixNano) })) })));
}

function fromJson(line: string): OtlpBatch[] {
  const parsed = JSON.parse(line) as Array<{ resource: OtlpBatch["resource"]; spans: StoredSpanJson[] }>;
  return parsed.map((b) => ({ resource: b.resource, spans: b.spans.map((s) => ({ ...s, startTimeUnixNano: BigInt(s.startTimeUnixNano), endTimeUnixNano: BigInt(s.endTimeUnixNano) })) }));
}

export class TraceDisk {
  private readonly segments: Array<{ seq: number; bytes: number }> = [];
  private stream?: WriteStream;
  private readonly segmentBytes: number;
  private dropped = 0;
  private unreadable = 0;

  constructor(private readonly dir: string, private readonly maxBytes: number) {
    if (!Number.isFinite(maxBytes) || maxBytes < 1024 * 1024) throw new Error(`--trace-store: the size bound must be at least 1 MiB, not ${maxBytes} bytes`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    this.segmentBytes = Math.floor(maxBytes / SEGMENTS_PER_BOUND);
    for (const name of readdirSync(dir).sort()) {
      const m = SEGMENT.exec(name);
      if (m) this.segments.push({ seq: Number(m[1]), bytes: statSync(join(dir, name)).size });
    }
  }

  private path(seq: number): string {
    return join(this.dir, `spans-${String(seq).padStart(12, "0")}.jsonl`);
  }

  /** Every batch kept, oldest first; a line that cannot be read (a crash mid-write) is skipped and counted. */
  load(): OtlpBatch[][] {
    this.trim();
    const out: OtlpBatch[][] = [];
    for (const s of this.segments) {
      for (const line of readFileSync(this.path(s.seq), "utf8").split("\n")) {
        if (!line) continue;
        try {
          out.push(fromJson(line));
        } catch {
          this.unreadable++;
        }
      }
    }
    return out;
  }

  append(batches: OtlpBatch[]): void {
    const line = toJson(batches) + "\n";
    const size = Buffer.byteLength(line);
    let last = this.segments.at(-1);
    if (!last || !this.stream || last.bytes + size > this.segmentBytes) {
      this.stream?.end();
      last = { seq: (last?.seq ?? 0) + 1, bytes: 0 };
      this.segments.push(last);
      // Opened here, 0600 (spans carry URLs and header values): a stream opening it later could recreate a file trim() just removed.
      this.stream = createWriteStream("", { fd: openSync(this.path(last.seq), "a", 0o600) });
    }
    this.stream.write(line);
    last.bytes += size;
    this.trim();
  }

  /** Drops the oldest segments (never the one being written) until the bound holds. */
  private trim(): void {
    let total = this.segments.reduce((n, s) => n + s.bytes, 0);
    while (total > this.maxBytes && this.segments.length > 1) {
      const old = this.segments.shift()!;
      unlinkSync(this.path(old.seq));
      total -= old.bytes;
      this.dropped++;
    }
  }

  stats(): TraceDiskStats {
    return { segments: this.segments.length, bytes: this.segments.reduce((n, s) => n + s.bytes, 0), maxBytes: this.maxBytes, droppedSegments: this.dropped, unreadableLines: this.unreadable };
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    return new Promise((resolve) => (s ? s.end(resolve) : resolve()));
  }
}
