// Parses the Prometheus text exposition format (what every proxy's /stats/prometheus serves): one sample per line,
// `name{label="value",...} value [timestamp]`, with # HELP/# TYPE comments. Malformed lines are reported, not fatal.
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  samples: ParsedSample[];
  errors: string[];
}

function parseValue(text: string): number {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const n = Number(text);
  if (text === "" || Number.isNaN(n)) throw new Error(`"${text}" is not a number`);
  return n;
}

function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    while (line[i] === " " || line[i] === ",") i++;
    if (line[i] === "}") return { labels, end: i + 1 };
    const eq = line.indexOf("=", i);
    if (eq < 0 || line[eq + 1] !== '"') throw new Error(`label at column ${i + 1} has no ="value"`);
    const key = line.slice(i, eq).trim();
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) throw new Error(`"${key}" is not a label name`);
    let v = "";
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === "\\") {
        j++;
        v += line[j] === "n" ? "\n" : line[j];
      } else v += line[j];
    }
    if (j >= line.length) throw new Error(`label ${key}'s value is not closed`);
    labels[key] = v;
    i = j + 1;
  }
}

export function parseExposition(text: string): Exposition {
  const samples: ParsedSample[] = [];
  const errors: string[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === "" || line.startsWith("#")) continue;
    try {
      const brace = line.indexOf("{");
      const space = line.indexOf(" ");
      let name: string;
      let labels: Record<string, string> = {};
      let rest: string;
      if (brace >= 0 && (space < 0 || brace < space)) {
        name = line.slice(0, brace);
        const parsed = parseLabels(line, brace);
        labels = parsed.labels;
        rest = line.slice(parsed.end).trim();
      } else {
        if (space < 0) throw new Error("no value");
        name = line.slice(0, space);
        rest = line.slice(space + 1).trim();
      }
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`"${name}" is not a metric name`);
      samples.push({ name, labels, value: parseValue(rest.split(/\s+/)[0]) });
    } catch (err) {
      errors.push(`line ${n + 1}: ${(err as Error).message}`);
    }
  }
  return { samples, errors };
}
