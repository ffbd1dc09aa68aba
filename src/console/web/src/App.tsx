// The console's frame: navigation on the left, the page the URL names on the right. Pages with heavy libraries
// (Cytoscape, CodeMirror, Recharts) load on first visit, so the first page does not wait for all of them.
import { lazy, Suspense } from "react";
import { useRoute, href } from "./router";
import { ListPage } from "./pages/ListPage";
import { TracesPage } from "./pages/TracesPage";
import { TraceView } from "./pages/TraceView";
import { ConfigPage } from "./pages/ConfigPage";
import { MeshPage } from "./pages/MeshPage";

const Overview = lazy(() => import("./pages/Overview").then((m) => ({ default: m.Overview })));
const GraphPage = lazy(() => import("./pages/GraphPage").then((m) => ({ default: m.GraphPage })));
const DetailPage = lazy(() => import("./pages/DetailPage").then((m) => ({ default: m.DetailPage })));
const ConfigEditor = lazy(() => import("./pages/ConfigEditor").then((m) => ({ default: m.ConfigEditor })));

const NAV: Array<[string, string]> = [["overview", "Overview"], ["graph", "Traffic Graph"], ["applications", "Applications"], ["workloads", "Workloads"], ["services", "Services"], ["traces", "Traces"], ["istio", "Istio Config"], ["mesh", "Mesh"]];

export function App() {
  const route = useRoute();
  const [section, ...rest] = route.path;
  let page;
  switch (section) {
    case "graph": page = <GraphPage params={route.params} />; break;
    case "applications": case "workloads": case "services":
      page = rest.length === 2 ? <DetailPage section={section} namespace={rest[0]} name={rest[1]} params={route.params} /> : <ListPage section={section} />;
      break;
    case "traces": page = rest[0] ? <TraceView traceId={rest[0]} /> : <TracesPage params={route.params} />; break;
    case "istio": page = rest.length === 3 ? <ConfigEditor kind={rest[0]} namespace={rest[1]} name={rest[2]} /> : rest[0] === "new" ? <ConfigEditor /> : <ConfigPage />; break;
    case "mesh": page = <MeshPage />; break;
    default: page = <Overview />;
  }
  return (
    <div className="app">
      <nav className="nav" aria-label="Main">
        <div className="brand">Trellis</div>
        <ul>
          {NAV.map(([id, label]) => (
            <li key={id}><a href={href([id])} aria-current={section === id || (!section && id === "overview") ? "page" : undefined}>{label}</a></li>
          ))}
        </ul>
      </nav>
      <main className="main"><Suspense fallback={<p className="muted">Loading…</p>}>{page}</Suspense></main>
    </div>
  );
}
