// A finding of the analyzer: what is wrong, where, how bad, and how to fix it.
import { CODES, type Code } from "./codes.js";

export type Level = "Error" | "Warning" | "Info";

export interface ResourceRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface Finding {
  code: string;
  /** The code istioctl analyze gives the same finding (IST0101...), when it has one. */
  ist?: string;
  level: Level;
  /** Says what is wrong and how to fix it. */
  message: string;
  resource?: ResourceRef;
  /** Field path inside the resource, e.g. spec.http[0].route[1].weight. */
  path?: string;
  source?: { file: string; line: number };
}

export function finding(code: Code, message: string, where: { resource?: ResourceRef; path?: string; source?: { file: string; line: number } } = {}): Finding {
  const info: { level: Level; ist?: string } = CODES[code];
  const f: Finding = { code, ...(info.ist ? { ist: info.ist } : {}), level: info.level, message };
  if (where.resource) f.resource = where.resource;
  if (where.path) f.path = where.path;
  if (where.source) f.source = where.source;
  return f;
}

const ORDER: Record<Level, number> = { Error: 0, Warning: 1, Info: 2 };

/** Errors first, then by file, line, resource and code, so output is stable. */
export function sortFindings(list: Finding[]): Finding[] {
  return [...list].sort((a, b) =>
    ORDER[a.level] - ORDER[b.level] ||
    (a.source?.file ?? "").localeCompare(b.source?.file ?? "") ||
    (a.source?.line ?? 0) - (b.source?.line ?? 0) ||
    `${a.resource?.kind}/${a.resource?.namespace}/${a.resource?.name}`.localeCompare(`${b.resource?.kind}/${b.resource?.namespace}/${b.resource?.name}`) ||
    a.code.localeCompare(b.code) ||
    (a.path ?? "").localeCompare(b.path ?? ""));
}
