// The Kubernetes objects among the analyzer's inputs (Namespaces, Services, Pods, Deployments), read defensively, and
// a reporter for findings about them with the file and line they were loaded from.
import type { Code } from "../../codes.js";
import { type Finding, finding } from "../../finding.js";
import { otherOrigins } from "../../load.js";

export type KubeObject = Record<string, unknown>;
export type ObjectReport = (o: KubeObject, code: Code, path: string, message: string) => void;

export function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.map(obj) : [];
}

export function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === "string") out[k] = x;
  return out;
}

export const nameOf = (o: KubeObject) => String(obj(o.metadata).name ?? "");
/** Namespaces are cluster-scoped; everything else defaults to "default" as kubectl does. */
export const namespaceOf = (o: KubeObject) => (o.kind === "Namespace" ? "" : String(obj(o.metadata).namespace ?? "default"));
export const labelsOf = (o: KubeObject) => strings(obj(o.metadata).labels);
export const annotationsOf = (o: KubeObject) => strings(obj(o.metadata).annotations);
export const ofKind = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind && nameOf(o) !== "");

/** Namespaces Istio's analyzers leave alone: Kubernetes' own and the control plane's. */
export function isSystemNamespace(ns: string): boolean {
  return ns === "kube-system" || ns === "kube-public" || ns === "kube-node-lease" || ns === "local-path-storage" || ns === "istio-system";
}

export function objectReporter(out: Finding[]): ObjectReport {
  return (o, code, path, message) => {
    const origin = otherOrigins.get(o);
    out.push(finding(code, message, {
      resource: { kind: String(o.kind), namespace: namespaceOf(o), name: nameOf(o) },
      path,
      source: origin ? { file: origin.file, line: origin.lineOf(path) ?? origin.line } : undefined,
    }));
  };
}
