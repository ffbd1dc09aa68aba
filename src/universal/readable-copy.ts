// A copy of the built trellis that the sidecar's uid (1337, as Istio's) can read wherever the project is cloned: a
// clone under a 0700 directory (as `mktemp -d` makes) cannot be traversed by that uid, so `node dist/...` fails with
// "Cannot find module". The copy sits in the system temp dir, owned by root and not writable by anyone else, keyed by
// the build, so it is made once per build and shared by every sidecar; files are hard links where they can be.
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository (or installed package) root: dist/src/universal/ -> three levels up. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** What running trellis needs: the compiled sources, the native addon, package.json (ESM) and production deps. */
function runtimeEntries(root: string): string[] {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const deps = Object.entries(lock.packages).filter(([path, p]) => path.startsWith("node_modules/") && !p.dev && !p.devOptional && !path.includes("/node_modules/", "node_modules/".length)).map(([path]) => path);
  return ["package.json", "dist/src", "dist/native", ...deps.filter((d) => existsSync(join(root, d)))];
}

function buildKey(root: string, entries: string[]): string {
  const h = createHash("sha256");
  for (const e of entries) {
    const st = statSync(join(root, e));
    h.update(`${e}:${st.mtimeMs}:${st.size}\n`);
  }
  // The compiled CLI changes with every build.
  const main = statSync(join(root, "dist", "src", "cli", "main.js"));
  h.update(`main:${main.mtimeMs}:${main.size}`);
  return h.digest("hex").slice(0, 16);
}

/**
 * Mirrors `from` at `to`: directories made 0755, files hard-linked when they are ours, readable by all and writable by
 * no one else (instant, and the clone's build is not duplicated), else copied with those modes (another filesystem,
 * a private file).
 */
function mirror(from: string, to: string): void {
  const st = lstatSync(from);
  if (st.isSymbolicLink()) return symlinkSync(readlinkSync(from), to);
  if (st.isDirectory()) {
    mkdirSync(to, { mode: 0o755 });
    chmodSync(to, 0o755);
    for (const name of readdirSync(from)) mirror(join(from, name), join(to, name));
    return;
  }
  const linkable = st.uid === process.getuid?.() && (st.mode & 0o044) === 0o044 && (st.mode & 0o022) === 0;
  if (linkable) {
    try {
      return linkSync(from, to);
    } catch {
      // another filesystem: copy below
    }
  }
  copyFileSync(from, to);
  chmodSync(to, st.mode & 0o111 ? 0o755 : 0o644);
}

/** A copy we may trust: a directory owned by us that nobody else can write to. */
function trusted(path: string): boolean {
  const st = lstatSync(path);
  return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
}

/**
 * The root of a readable copy holding `entries` (paths relative to `root`; default: what running trellis needs),
 * made when missing. Several processes may race: each builds in its own temp dir and the first rename wins.
 */
export function readableCopy(extra: string[] = [], root = PACKAGE_ROOT): string {
  const entries = [...runtimeEntries(root), ...extra];
  const dest = join(tmpdir(), `trellis-runtime-${buildKey(root, entries)}`);
  if (existsSync(dest)) {
    if (!trusted(dest)) throw new Error(`${dest} is not a directory owned by this user and closed to others' writes; remove it and try again`);
    return dest;
  }
  const staging = mkdtempSync(join(tmpdir(), "trellis-runtime-staging-"));
  try {
    chmodSync(staging, 0o755);
    for (const e of entries) {
      mkdirSync(dirname(join(staging, e)), { recursive: true, mode: 0o755 });
      mirror(join(root, e), join(staging, e));
    }
    try {
      renameSync(staging, dest);
    } catch (err) {
      if (!existsSync(dest)) throw err; // another process made it first: use theirs
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (!trusted(dest)) throw new Error(`${dest} is not a directory owned by this user and closed to others' writes; remove it and try again`);
  return dest;
}
