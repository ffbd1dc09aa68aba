// Sorting and text filtering shared by every list: click a column header to sort by it (again to reverse).
import { useState } from "react";

export function useSort<T>(rows: T[], keys: Record<string, (r: T) => string | number>, initial: string) {
  const [by, setBy] = useState(initial);
  const [desc, setDesc] = useState(false);
  const key = keys[by] ?? keys[initial];
  const sorted = [...rows].sort((a, b) => {
    const x = key(a);
    const y = key(b);
    const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return desc ? -c : c;
  });
  const header = (id: string, label: string) => (
    <th aria-sort={by === id ? (desc ? "descending" : "ascending") : "none"}>
      <button className="sort" onClick={() => (by === id ? setDesc(!desc) : (setBy(id), setDesc(false)))}>{label}{by === id ? (desc ? " ▼" : " ▲") : ""}</button>
    </th>
  );
  return { sorted, header };
}

/** Whether a row's text contains every word of the filter (case-insensitive). */
export function matchesText(filter: string, ...fields: Array<string | undefined>): boolean {
  const hay = fields.join(" ").toLowerCase();
  return filter.toLowerCase().split(/\s+/).filter(Boolean).every((w) => hay.includes(w));
}
