// What `trellis run` keeps of a workload's output for the console's Logs tab, as a kubelet keeps a pod's: every line
// of the app and of the sidecar, still printed as before, also appended to STATE/workloads/ID.log with its time and
// container; the file is 0600 and rotated at a bounded size (one previous file kept), so it never grows unbounded.
import { appendFileSync, closeSync, existsSync, openSync, renameSync, statSync } from "node:fs";
import type { Readable, Writable } from "node:stream";

export const LOG_MAX_BYTES = 2 * 1024 * 1024;

export class LogFile {
  private size: number;

  constructor(readonly path: string, private readonly maxBytes = LOG_MAX_BYTES) {
    closeSync(openSync(path, "a", 0o600));
    this.size = statSync(path).size;
  }

  append(container: "app" | "sidecar", line: string): void {
    const text = `${new Date().toISOString()} ${container} ${line}\n`;
    if (this.size + text.length > this.maxBytes && this.size > 0) {
      renameSync(this.path, `${this.path}.1`);
      closeSync(openSync(this.path, "w", 0o600));
      this.size = 0;
    }
    appendFileSync(this.path, text, { mode: 0o600 });
    this.size += Buffer.byteLength(text);
  }
}

/** Copies a child's output to `out` unchanged and its lines to the log file. */
export function tee(from: Readable, out: Writable, log: LogFile, container: "app" | "sidecar"): void {
  let partial = "";
  from.on("data", (chunk: Buffer) => {
    out.write(chunk);
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) log.append(container, l.replace(/\r$/, ""));
  });
  from.on("end", () => { if (partial) log.append(container, partial); });
}

export const logExists = (path: string) => existsSync(path);
