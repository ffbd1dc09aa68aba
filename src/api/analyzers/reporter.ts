// Builds findings about a resource with its file and line filled in from where the resource was loaded.
import type { Code } from "../codes.js";
import { type Finding, finding } from "../finding.js";
import type { LoadedResource } from "../load.js";

export type Report = (resource: LoadedResource, code: Code, path: string, message: string) => void;

export function reporter(out: Finding[]): Report {
  return (resource, code, path, message) => {
    const origin = resource.origin;
    out.push(finding(code, message, {
      resource: { kind: resource.kind, namespace: resource.metadata.namespace ?? "default", name: resource.metadata.name },
      path,
      source: origin ? { file: origin.file, line: origin.lineOf(path) ?? origin.line } : undefined,
    }));
  };
}

export function asObject(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function ns(r: LoadedResource): string {
  return r.metadata.namespace ?? "default";
}
