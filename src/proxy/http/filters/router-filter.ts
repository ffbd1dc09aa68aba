// envoy.filters.http.router is the chain's terminal filter; the connection manager hands requests to the Router.
import { registerFilter } from "../filter.js";

registerFilter("envoy.filters.http.router", "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", () => ({
  name: "envoy.filters.http.router",
  onRequest: () => "continue",
}));
