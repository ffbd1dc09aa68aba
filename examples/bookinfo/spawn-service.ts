// Starts one Bookinfo service as a child process and resolves with the port it printed once listening.
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export type ServiceName = "productpage" | "details" | "reviews" | "ratings";

export interface RunningService {
  name: string;
  child: ChildProcess;
  port: number;
  url: string;
  /** SIGTERM, then SIGKILL if the process has not exited within two seconds. */
  stop(): Promise<void>;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const READY = /listening on http:\/\/(\S+):(\d+)/;
const START_TIMEOUT_MS = 10_000;

export function startService(service: ServiceName, label: string, args: string[], env: Record<string, string>): Promise<RunningService> {
  const child = spawn(process.execPath, [join(HERE, `${service}.js`), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString("utf8")).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    stopping ??= (async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${label}: not listening after ${START_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, START_TIMEOUT_MS);
    const onData = (c: Buffer): void => {
      out += c.toString("utf8");
      const m = READY.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stdout?.resume();
      const port = Number(m[2]);
      resolve({ name: label, child, port, url: `http://${m[1]}:${port}`, stop });
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label}: exited (${signal ?? code}) before listening; stderr: ${stderr}`));
    });
  });
}
