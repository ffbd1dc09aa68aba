// Runs every compiled test file under dist/ with Node's built-in test runner, one file at a time: several files
// start real processes on ports picked while free, and running them side by side would let them race for ports.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

// System packages some tests use (iptables for transparent mode); installs only what is missing, only as root.
spawnSync("bash", ["scripts/install-system-deps.sh"], { stdio: "inherit" });
// The Kubernetes test cluster's binaries (built from Go modules once per version, a no-op when cached): built here,
// before any test runs, so a cold build is not charged to one test's timeout. Without Go those tests skip.
spawnSync("bash", ["scripts/install-kube.sh"], { stdio: ["ignore", "ignore", "inherit"] });
// The helm CLI for the chart tests, likewise (a cold build takes 10-35 min; then a no-op).
spawnSync("bash", ["scripts/install-helm.sh"], { stdio: ["ignore", "ignore", "inherit"] });
// Jaeger and the OpenTelemetry Collector for the telemetry tests, likewise (a cold build is the longest of the three).
spawnSync("bash", ["scripts/install-otel.sh"], { stdio: ["ignore", "ignore", "inherit"] });

const filter = process.argv.slice(2);
const files = collect("dist", []).filter((f) => filter.length === 0 || filter.some((p) => f.includes(p))).sort();
if (files.length === 0) {
  console.error("no test files found under dist/ (did the build run?)");
  process.exit(1);
}
const result = spawnSync(process.execPath, ["--test", "--test-timeout=180000", "--test-concurrency=1", ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
