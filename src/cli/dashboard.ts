// `trellis dashboard`: finds the console, prints its address and opens it in a browser when there is a display.
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";

const USAGE = `usage: trellis dashboard [--console URL] [--no-open]

Prints the console's address (default http://127.0.0.1:20001/, served by trellis control or trellis demo) after
checking that it answers, and opens it with xdg-open when a display is available.`;

export async function run(args: string[]): Promise<number> {
  let url: string;
  let open: boolean;
  try {
    const { values } = parseArgs({ args, options: { console: { type: "string", default: process.env.TRELLIS_CONSOLE ?? "http://127.0.0.1:20001/" }, "no-open": { type: "boolean" }, help: { type: "boolean", short: "h" } } });
    if (values.help) { console.log(USAGE); return 0; }
    url = new URL(values.console!).href;
    open = !values["no-open"];
  } catch (err) {
    console.error(`trellis dashboard: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  try {
    const res = await fetch(new URL("version", url), { signal: AbortSignal.timeout(3000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    console.error(`trellis dashboard: no console answers at ${url} (${(err as Error).message}); start one with \`trellis control\` or \`trellis demo\`, or pass --console URL`);
    return 1;
  }
  console.log(url);
  if (open && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY)) {
    const child = spawn("xdg-open", [url], { stdio: "ignore", detached: true });
    child.on("error", () => console.error("trellis dashboard: xdg-open is not available; open the address above yourself"));
    child.unref();
  }
  return 0;
}
