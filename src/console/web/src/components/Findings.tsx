// One severity vocabulary for every finding the analyzer returns: errors are red and called errors, warnings amber,
// infos grey, counted the same way in the editor, the wizards and the Istio Config list.
import type { Finding } from "../api";

export type Severity = "error" | "warning" | "info" | "valid";

export function severityOf(findings: Finding[]): Severity {
  if (findings.some((f) => f.level === "Error")) return "error";
  if (findings.some((f) => f.level === "Warning")) return "warning";
  if (findings.some((f) => f.level === "Info")) return "info";
  return "valid";
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** "2 errors, 1 warning", or "Valid". */
export function summary(findings: Finding[]): string {
  const e = findings.filter((f) => f.level === "Error").length;
  const w = findings.filter((f) => f.level === "Warning").length;
  const i = findings.filter((f) => f.level === "Info").length;
  const parts = [e && plural(e, "error"), w && plural(w, "warning"), i && plural(i, "info")].filter(Boolean);
  return parts.length ? parts.join(", ") : "Valid";
}

const CLASS: Record<Severity, string> = { error: "error", warning: "warn", info: "muted", valid: "ok" };

/** A status icon drawn in CSS/SVG (no emoji font needed) and the summary. */
export function SeverityLabel({ findings }: { findings: Finding[] }) {
  const s = severityOf(findings);
  return <span className={`severity ${CLASS[s]}`} data-severity={s} title={findings.map((f) => `${f.level} ${f.code}: ${f.message}`).join("\n")}><i className={`dot ${s}`} aria-hidden="true" />{summary(findings)}</span>;
}

export function FindingList({ findings, lineOf }: { findings: Finding[]; lineOf?: (f: Finding) => number | undefined }) {
  if (!findings.length) return null;
  return (
    <ul className="findings" aria-label="Findings">
      {findings.map((f, i) => {
        const line = lineOf?.(f);
        return <li key={i} className={f.level === "Error" ? "error" : f.level === "Warning" ? "warn" : "muted"}><strong>{f.level}</strong> {f.code}{line ? ` (line ${line})` : ""} {f.path ? `${f.path}: ` : ""}{f.message}</li>;
      })}
    </ul>
  );
}
