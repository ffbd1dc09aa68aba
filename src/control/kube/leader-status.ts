// The status of Istio's resources in the cluster, as istiod's leader writes it: each resource's status gets the
// analyzer's findings about it (validationMessages, as `istioctl analyze` names them) and the generation they were
// computed for (observedGeneration), so `kubectl get vs -o yaml` shows what is wrong across resources. The Gateway
// API's resources get their own status instead (Accepted, Programmed, ResolvedRefs, route parents), as computed for
// the REST API, so `kubectl get gateway` shows it too. Singleton work: only the leader writes, debounced after
// changes, and only where the status differs.
import { analyze, type AnalysisContext } from "../../api/analyze.js";
import { CODES } from "../../api/codes.js";
import type { Finding } from "../../api/finding.js";
import { kindFor } from "../../api/kinds.js";
import type { IstioResource } from "../../api/resource.js";
import { type KubeClient, KubeApiError } from "./client.js";
import { statusKey } from "../translate/gateway-api.js";
import { canonical } from "./webhook-config.js";

export interface StatusSource {
  /** Istio's resources as the cluster holds them (KubeStore), status included. */
  list(): IstioResource[];
  on(event: "event", listener: () => void): unknown;
  off(event: "event", listener: () => void): unknown;
  /** What the analyzer knows of the mesh (services, workloads). */
  context(): AnalysisContext;
  /** The Gateway API resources' status by statusKey (translate/gateway-api.ts); undefined = not written. */
  gatewayApiStatus?(): Map<string, unknown>;
}

const GATEWAY_API_GROUP = "gateway.networking.k8s.io";

interface ValidationMessage {
  type: { code: string; name: string };
  level: "ERROR" | "WARNING" | "INFO";
  description: string;
}

/** The status a resource should carry given the findings. Pure. */
export function desiredStatus(r: IstioResource, findings: Finding[]): { observedGeneration?: number; validationMessages: ValidationMessage[] | null } {
  const messages = findings
    .filter((f) => f.resource?.kind === r.kind && f.resource.namespace === (r.metadata.namespace ?? "default") && f.resource.name === r.metadata.name)
    .map((f) => ({ type: { code: f.code, name: CODES[f.code as keyof typeof CODES]?.name ?? f.code }, level: f.level.toUpperCase() as ValidationMessage["level"], description: f.path ? `${f.path}: ${f.message}` : f.message }));
  const generation = (r.metadata as { generation?: number }).generation;
  return { ...(generation !== undefined ? { observedGeneration: generation } : {}), validationMessages: messages.length ? messages : null };
}

export class StatusWriter {
  private timer?: NodeJS.Timeout;
  private running = false;
  private again = false;
  /** What this writer last wrote per resource: a status the API server reshapes (defaults) is not written again. */
  private readonly written = new Map<string, string>();
  private readonly onChange = () => this.schedule();

  constructor(private readonly client: KubeClient, private readonly source: StatusSource, private readonly log: (line: string) => void, private readonly debounceMs = 1000) {}

  start(): void {
    this.source.on("event", this.onChange);
    this.schedule();
  }

  stop(): void {
    this.source.off("event", this.onChange);
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pass();
    }, this.debounceMs);
    this.timer.unref();
  }

  /** One pass over every resource; a change during the pass schedules another. */
  private async pass(): Promise<void> {
    if (this.running) { this.again = true; return; }
    this.running = true;
    try {
      const resources = this.source.list();
      const istio = resources.filter((r) => !r.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`));
      const findings = analyze(istio, this.source.context());
      for (const r of istio) await this.write(r, desiredStatus(r, findings));
      const gatewayApi = this.source.gatewayApiStatus?.();
      if (gatewayApi) for (const r of resources.filter((x) => x.apiVersion.startsWith(`${GATEWAY_API_GROUP}/`))) await this.writeGatewayApi(r, gatewayApi);
    } finally {
      this.running = false;
      if (this.again) { this.again = false; this.schedule(); }
    }
  }

  private async writeGatewayApi(r: IstioResource, statuses: Map<string, unknown>): Promise<void> {
    const info = kindFor(r.apiVersion, r.kind);
    const want = statuses.get(statusKey(r.kind, info?.namespaced ? r.metadata.namespace : undefined, r.metadata.name));
    if (!info || !want) return;
    const key = `${r.apiVersion}/${r.kind}/${r.metadata.namespace ?? ""}/${r.metadata.name}`;
    const text = `${r.metadata.generation ?? ""}\n${canonical(want)}`;
    const have = (r as unknown as { status?: unknown }).status ?? {};
    if (canonical(have) === canonical(want) || this.written.get(key) === text) return;
    const scope = info.namespaced ? `/namespaces/${r.metadata.namespace ?? "default"}` : "";
    if (await this.patch(r, `/apis/${r.apiVersion}${scope}/${info.plural}/${encodeURIComponent(r.metadata.name)}/status`, want)) this.written.set(key, text);
  }

  private async write(r: IstioResource, want: ReturnType<typeof desiredStatus>): Promise<void> {
    const have = ((r as unknown as { status?: Record<string, unknown> }).status ?? {});
    if (have.observedGeneration === want.observedGeneration && canonical(have.validationMessages ?? null) === canonical(want.validationMessages)) return;
    const info = kindFor(r.apiVersion, r.kind);
    if (!info) return;
    await this.patch(r, `/apis/${r.apiVersion}/namespaces/${r.metadata.namespace ?? "default"}/${info.plural}/${encodeURIComponent(r.metadata.name)}/status`, want);
  }

  /** Whether the status was written. */
  private async patch(r: IstioResource, path: string, want: unknown): Promise<boolean> {
    try {
      await this.client.request("PATCH", path, { body: { status: want }, contentType: "application/merge-patch+json" });
      return true;
    } catch (err) {
      // Gone or moved on: the next pass sees it. Anything else is said.
      if (!(err instanceof KubeApiError && (err.status === 404 || err.status === 409))) this.log(`trellis control: cannot write the status of ${r.kind} ${r.metadata.namespace ?? ""}/${r.metadata.name}: ${(err as Error).message}`);
      return false;
    }
  }
}
