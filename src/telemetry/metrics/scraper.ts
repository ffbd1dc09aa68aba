// Scrapes every proxy's /stats/prometheus on an interval into the embedded store (Istio's metrics only: the rest
// of a proxy's stats are for its admin page, and keeping them would multiply the store's size for nothing).
import { request } from "node:http";
import { parseExposition } from "./exposition.js";
import type { SeriesStore } from "./series-store.js";

export interface ScrapeTarget {
  /** "host:port" of the proxy's admin. */
  address: string;
}

const CONCURRENCY = 8;
const TIMEOUT_MS = 3000;
const MAX_BYTES = 16 * 1024 * 1024;

function fetchText(address: string): Promise<string> {
  const colon = address.lastIndexOf(":");
  return new Promise((resolve, reject) => {
    const req = request({ host: address.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.slice(colon + 1)), path: "/stats/prometheus", timeout: TIMEOUT_MS }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`HTTP ${res.statusCode}`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BYTES) req.destroy(new Error(`more than ${MAX_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}

export class Scraper {
  private timer?: NodeJS.Timeout;
  /** Last failure per target, for the control plane's log (once per target until it recovers). */
  private readonly failing = new Set<string>();

  constructor(
    private readonly store: SeriesStore,
    private readonly targets: () => ScrapeTarget[],
    readonly intervalMs: number,
    private readonly log: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    const tick = () => {
      void this.scrapeOnce().finally(() => { if (this.timer) this.timer = setTimeout(tick, this.intervalMs).unref(); });
    };
    this.timer = setTimeout(tick, this.intervalMs).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Scrapes every target once (bounded concurrency); a target that fails is skipped until the next round. */
  async scrapeOnce(): Promise<void> {
    const queue = [...this.targets()];
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) {
        try {
          this.ingest(await fetchText(t.address), this.now());
          if (this.failing.delete(t.address)) this.log(`trellis control: scraping ${t.address} works again`);
        } catch (err) {
          if (!this.failing.has(t.address)) this.log(`trellis control: cannot scrape ${t.address}/stats/prometheus: ${(err as Error).message}`);
          this.failing.add(t.address);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    this.store.compact(this.now());
  }

  ingest(text: string, time: number): void {
    for (const s of parseExposition(text).samples) if (s.name.startsWith("istio_")) this.store.append(s.name, s.labels, time, s.value);
  }
}
