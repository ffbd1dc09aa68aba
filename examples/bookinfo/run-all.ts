// Launches all of Bookinfo as plain processes on 127.0.0.1 with upstreams wired directly, until SIGINT/SIGTERM.
import net from "node:net";
import { option } from "./common.js";
import { startService, type RunningService } from "./spawn-service.js";

const HOST = "127.0.0.1";

/**
 * Without a mesh, something must stand for the `reviews` Service in front of its three versions: a TCP
 * round-robin over connections. productpage opens a fresh connection per request, so versions take turns.
 */
function roundRobin(ports: number[], listenPort: number): Promise<net.Server> {
  let next = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(ports[next++ % ports.length], HOST);
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, HOST, () => resolve(server));
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const base = Number(option(argv, "base-port", "BOOKINFO_BASE_PORT", "0"));
  if (!Number.isInteger(base) || base < 0 || base > 65529) {
    console.error("--base-port: give 0 (free ports) or a port P; services then use P..P+6");
    return 2;
  }
  const at = (offset: number): string => String(base === 0 ? 0 : base + offset);
  const running: RunningService[] = [];
  let balancer: net.Server | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> => {
    stopping ??= (async () => {
      balancer?.close();
      await Promise.all(running.map((s) => s.stop()));
    })();
    return stopping;
  };
  try {
    const listen = ["--host", HOST];
    const ratings = await startService("ratings", "ratings-v1", [...listen, "--port", at(5)], {});
    running.push(ratings);
    const upstream = (name: string, port: number): Record<string, string> => ({ [`${name}_HOSTNAME`]: HOST, [`${name}_SERVICE_PORT`]: String(port) });
    const details = await startService("details", "details-v1", [...listen, "--port", at(1)], {});
    running.push(details);
    const reviews: RunningService[] = [];
    for (const [i, version] of ["v1", "v2", "v3"].entries()) {
      const r = await startService("reviews", `reviews-${version}`, [...listen, "--port", at(2 + i), "--version", version], {
        ...upstream("RATINGS", ratings.port),
        HOSTNAME: `reviews-${version}`,
      });
      running.push(r);
      reviews.push(r);
    }
    balancer = await roundRobin(reviews.map((r) => r.port), Number(at(6)));
    const address = balancer.address();
    const reviewsPort = typeof address === "object" && address ? address.port : 0;
    const productpage = await startService("productpage", "productpage-v1", [...listen, "--port", at(0)], {
      ...upstream("DETAILS", details.port),
      ...upstream("REVIEWS", reviewsPort),
      ...upstream("RATINGS", ratings.port),
    });
    running.push(productpage);
    for (const s of running) console.log(`${s.name.padEnd(15)} ${s.url}`);
    console.log(`${"reviews".padEnd(15)} http://${HOST}:${reviewsPort} (round-robin over v1, v2, v3)`);
    console.log(`open ${productpage.url}/productpage`);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    await stopAll();
    return 1;
  }
  return new Promise((resolve) => {
    const onSignal = (): void => void stopAll().then(() => resolve(0));
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    for (const s of running) {
      s.child.once("exit", (code) => {
        if (stopping) return;
        console.error(`${s.name} exited (${code}); stopping the others`);
        void stopAll().then(() => resolve(1));
      });
    }
  });
}

process.exitCode = await main();
