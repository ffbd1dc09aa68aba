// Runs one workload as Istio runs a pod: the sidecar first (until ready), then the app; signals go to both; the app
// stops first and the sidecar drains after it, so in-flight requests finish.
import { type ChildProcess, spawn } from "node:child_process";
import { request } from "node:http";
import { LogFile, tee } from "./log-capture.js";

export interface ProcessSpec {
  command: string;
  args: string[];
  env?: Record<string, string>;
  /** Wrap the command, e.g. ["ip", "netns", "exec", NS] for transparent mode. */
  wrapper?: string[];
}

export interface SupervisorOptions {
  sidecar: ProcessSpec;
  app: ProcessSpec;
  /** Polled until it answers 200 before the app starts (the sidecar's /healthz/ready). */
  readyUrl: string;
  readyTimeoutMs?: number;
  /** How long the sidecar may drain after the app stops before it is killed. */
  drainTimeoutMs?: number;
  log?: (line: string) => void;
  /** Where the app's and the sidecar's output lines are also kept (the console's Logs tab). */
  logFile?: string;
}

function launch(spec: ProcessSpec, capture?: { log: LogFile; container: "app" | "sidecar" }): ChildProcess {
  const [cmd, ...args] = [...(spec.wrapper ?? []), spec.command, ...spec.args];
  const child = spawn(cmd, args, { env: { ...process.env, ...spec.env }, stdio: capture ? ["inherit", "pipe", "pipe"] : "inherit" });
  if (capture) {
    tee(child.stdout!, process.stdout, capture.log, capture.container);
    tee(child.stderr!, process.stderr, capture.log, capture.container);
  }
  return child;
}

function exited(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(128);
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

function probe(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function stop(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited(child);
  clearTimeout(timer);
}

/** Resolves to the app's exit code (or non-zero when the sidecar never became ready or died under the app). */
export async function supervise(options: SupervisorOptions): Promise<number> {
  const log = options.log ?? ((l: string) => console.error(l));
  const logFile = options.logFile ? new LogFile(options.logFile) : undefined;
  const sidecar = launch(options.sidecar, logFile && { log: logFile, container: "sidecar" });
  const sidecarExit = exited(sidecar);
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let ready = false;
  while (!ready && Date.now() < deadline && sidecar.exitCode === null && sidecar.signalCode === null) {
    ready = await probe(options.readyUrl);
    if (!ready) await new Promise((r) => setTimeout(r, 100));
  }
  if (!ready) {
    await stop(sidecar, 2000);
    log(`the sidecar did not become ready at ${options.readyUrl}${sidecar.exitCode !== null ? ` (it exited with ${sidecar.exitCode})` : " in time"}; the app was not started`);
    return 1;
  }
  const app = launch(options.app, logFile && { log: logFile, container: "app" });
  const appExit = exited(app);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`received ${signal}: stopping the app, then draining the sidecar`);
    app.kill(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const first = await Promise.race([appExit.then((code) => ({ who: "app" as const, code })), sidecarExit.then((code) => ({ who: "sidecar" as const, code }))]);
    if (first.who === "sidecar") {
      log(`the sidecar exited with ${first.code} while the app was running; stopping the app`);
      await stop(app, 5000);
      return first.code === 0 ? 1 : first.code;
    }
    await stop(sidecar, options.drainTimeoutMs ?? 10_000);
    return first.code;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
