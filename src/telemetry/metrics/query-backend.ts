// Where telemetry queries run: the embedded store, or a real Prometheus (--prometheus-url). Both take the same
// PromQL, so the graph, metrics and health built on them answer the same from either.
import { instantQuery, rangeQuery, type Labels, type Sample } from "./promql-eval.js";
import type { SeriesStore } from "./series-store.js";

export interface QueryBackend {
  /** An instant vector at t (Unix ms). */
  instant(query: string, t: number): Promise<Sample[]>;
  range(query: string, start: number, end: number, stepMs: number): Promise<Array<{ labels: Labels; points: Array<[number, number]> }>>;
}

export class EmbeddedBackend implements QueryBackend {
  constructor(readonly store: SeriesStore) {}

  async instant(query: string, t: number): Promise<Sample[]> {
    const r = instantQuery(this.store, query, t);
    return r.resultType === "scalar" ? [{ labels: {}, value: r.value }] : r.result;
  }

  async range(query: string, start: number, end: number, stepMs: number) {
    return rangeQuery(this.store, query, start, end, stepMs);
  }
}

interface PromResponse {
  status: string;
  error?: string;
  data?: { resultType: string; result: Array<{ metric: Labels; value?: [number, string]; values?: Array<[number, string]> }> | [number, string] };
}

export class PrometheusBackend implements QueryBackend {
  constructor(private readonly baseUrl: string) {}

  private async get(path: string, params: Record<string, string>): Promise<PromResponse["data"]> {
    const url = new URL(path, this.baseUrl.endsWith("/") ? this.baseUrl : `${this.baseUrl}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json().catch(() => ({ status: "error", error: `HTTP ${res.status}, not JSON` }))) as PromResponse;
    if (body.status !== "success") throw new Error(`Prometheus at ${this.baseUrl}: ${body.error ?? `HTTP ${res.status}`}`);
    return body.data;
  }

  async instant(query: string, t: number): Promise<Sample[]> {
    const data = await this.get("api/v1/query", { query, time: String(t / 1000) });
    if (data?.resultType === "scalar") return [{ labels: {}, value: Number((data.result as [number, string])[1]) }];
    return (data?.result as Array<{ metric: Labels; value: [number, string] }>).map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
  }

  async range(query: string, start: number, end: number, stepMs: number) {
    const data = await this.get("api/v1/query_range", { query, start: String(start / 1000), end: String(end / 1000), step: String(stepMs / 1000) });
    return (data?.result as Array<{ metric: Labels; values: Array<[number, string]> }>).map((r) => ({ labels: r.metric, points: r.values.map(([t, v]) => [t * 1000, Number(v)] as [number, number]) }));
  }
}
