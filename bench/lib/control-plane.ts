// The real `trellis control` (the CLI, CA on) in a process of its own for the control-plane scenarios, with what
// they need around it: a bootstrap token, the REST API for writes, and generated ServiceEntries to fill the mesh.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, type Proc, start, waitForPort } from "./processes.js";

export const CLI = "dist/src/cli/main.js";
export const NAMESPACE = "bench";
export const SERVICE_ACCOUNT = "bench";

export interface Control {
  proc: Proc;
  pid: number;
  stateDir: string;
  ports: { xds: number; api: number; ca: number };
  /** A bootstrap token for NAMESPACE/SERVICE_ACCOUNT, signed with this control plane's key (as `trellis token create`). */
  token: string;
  /** A token whose proxy may register SERVICE with version=v1 (a token allows one service), minted once per service. */
  tokenFor(service: string): string;
  rootPem: string;
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/** BENCH_CP_PROFILE=DIR: the control plane writes a V8 CPU profile there (node --cpu-prof) when it stops. */
const PROFILE_DIR = process.env.BENCH_CP_PROFILE;

export async function startControl(): Promise<Control> {
  const nodeArgs = PROFILE_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR] : [];
  const stateDir = mkdtempSync(join(tmpdir(), "trellis-bench-cp-"));
  const ports = { xds: await freePort(), api: await freePort(), ca: await freePort() };
  const otlp = await freePort();
  const proc = start("trellis-control", process.execPath, [...nodeArgs, CLI, "control", "--state-dir", stateDir, "--xds-port", String(ports.xds), "--api-port", String(ports.api),
    "--ca-port", String(ports.ca), "--otlp-port", String(otlp), "--console-port", "0"]);
  try {
    await waitForPort(ports.api, 20_000);
    await waitForPort(ports.ca, 20_000);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  const token = execFileSync(process.execPath, [CLI, "token", "create", "-n", NAMESPACE, "--service-account", SERVICE_ACCOUNT, "--ttl", "2h", "--state-dir", stateDir], { encoding: "utf8" }).trim();
  const perService = new Map<string, string>();
  const tokenFor = (service: string) => {
    let t = perService.get(service);
    if (!t) {
      t = execFileSync(process.execPath, [CLI, "token", "create", "-n", NAMESPACE, "--service-account", SERVICE_ACCOUNT, "--service", service, "--label", "version=v1", "--ttl", "2h", "--state-dir", stateDir], { encoding: "utf8" }).trim();
      perService.set(service, t);
    }
    return t;
  };
  const base = `http://127.0.0.1:${ports.api}`;
  return {
    proc, pid: proc.child.pid!, stateDir, ports, token, tokenFor,
    rootPem: readFileSync(join(stateDir, "ca", "root-cert.pem"), "utf8"),
    api: async (method, path, body) => {
      const res = await fetch(base + path, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
    },
    stop: async () => {
      await proc.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export const hostOf = (name: string) => `${name}.${NAMESPACE}.svc.cluster.local`;

/** A MESH_INTERNAL ServiceEntry with `endpoints` static endpoints on loopback addresses nothing dials (config only). */
export function serviceEntry(index: number, endpoints: number): Record<string, unknown> {
  return {
    apiVersion: "networking.istio.io/v1", kind: "ServiceEntry",
    metadata: { name: `svc-${index}`, namespace: NAMESPACE },
    spec: {
      hosts: [hostOf(`svc-${index}`)], location: "MESH_INTERNAL", resolution: "STATIC",
      ports: [{ number: 8080, name: "http", protocol: "HTTP" }],
      endpoints: Array.from({ length: endpoints }, (_, e) => ({ address: `127.3.${index % 250}.${1 + ((index * endpoints + e) % 250)}`, labels: { app: `svc-${index}`, shard: String(e) } })),
    },
  };
}

/** POSTs resources through the REST API, `parallel` at a time; throws on the first refusal with the server's reason. */
export async function createAll(control: Control, resources: Array<Record<string, unknown>>, parallel = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < resources.length) {
      const r = resources[next++];
      const plural = r.kind === "ServiceEntry" ? "serviceentries" : `${String(r.kind).toLowerCase()}s`;
      const res = await control.api("POST", `/apis/networking.istio.io/v1/namespaces/${NAMESPACE}/${plural}`, r);
      if (res.status !== 201) throw new Error(`creating ${String(r.kind)} ${(r.metadata as { name: string }).name}: ${res.status} ${String(res.body.message)}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}
