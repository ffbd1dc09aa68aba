// Routes live in the URL's hash (#/graph?window=5m&type=app), so a link shares the exact view.
import { useEffect, useState } from "react";

export interface Route {
  path: string[];
  params: URLSearchParams;
}

function current(): Route {
  const hash = window.location.hash.replace(/^#/, "") || "/overview";
  const [p, q] = hash.split("?");
  return { path: p.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(q ?? "") };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const on = () => setRoute(current());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

export function href(path: string[], params?: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== "") q.set(k, v);
  const qs = q.toString();
  return `#/${path.map(encodeURIComponent).join("/")}${qs ? `?${qs}` : ""}`;
}

/** Rewrites the current view's parameters in place (no new history entry per control change). */
export function setParams(params: Record<string, string | undefined>): void {
  const r = current();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === "") r.params.delete(k);
    else r.params.set(k, v);
  }
  const qs = r.params.toString();
  window.history.replaceState(null, "", `#/${r.path.map(encodeURIComponent).join("/")}${qs ? `?${qs}` : ""}`);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** Re-runs load every `refreshMs` (0 = once) and when deps change; returns data, error and a reload function. */
export function usePoll<T>(load: () => Promise<T>, deps: unknown[], refreshMs = 0): { data?: T; error?: string; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    const run = () => load().then((data) => live && setState({ data }), (err: Error) => live && setState((s) => ({ data: s.data, error: err.message })));
    run();
    const timer = refreshMs > 0 ? setInterval(run, refreshMs) : undefined;
    return () => {
      live = false;
      if (timer) clearInterval(timer);
    };
  }, [...deps, tick, refreshMs]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}
