// Resources stored by earlier versions under names now refused (".", "..", over 253 characters, not a DNS subdomain):
// at load they are moved aside into STATE/resources/quarantine/ (0600, never served or translated) and reported by
// file, so none is stuck where no API call can reach it; a DELETE of the name removes the quarantined file.
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { IstioResource } from "../../api/resource.js";
import { badNamespace, badResourceName } from "../api/resource-names.js";

export const QUARANTINE_DIR = "quarantine";

export interface QuarantinedResource {
  /** The store's kind key (storeKindOf), the namespace and the name as they were stored. */
  kind: string;
  namespace: string;
  name: string;
  /** Relative to the state directory: resources/quarantine/FILE. */
  file: string;
  reason: string;
}

/** Why a stored resource's name or namespace would be refused today, or undefined. */
export function refusedStoredName(r: IstioResource): string | undefined {
  const m = r.metadata as unknown as Record<string, unknown>;
  return badResourceName("metadata.name", m.name) ?? (m.namespace !== undefined ? badNamespace("metadata.namespace", m.namespace) : undefined);
}

/** Moves `resources/FILE` to `resources/quarantine/FILE` (a new suffix if taken), owner-only; returns the new name. */
export function moveAside(resourcesDir: string, file: string): string {
  const dir = join(resourcesDir, QUARANTINE_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let target = file;
  for (let i = 1; existsSync(join(dir, target)) && i < 1000; i++) target = `${file}.${i}`;
  renameSync(join(resourcesDir, file), join(dir, target));
  chmodSync(join(dir, target), 0o600);
  return target;
}

/** Removes a quarantined resource's file for good. */
export function removeQuarantined(resourcesDir: string, q: QuarantinedResource): void {
  rmSync(join(resourcesDir, "..", q.file), { force: true });
}
