// Bookinfo and Istio's tasks in explicit mode: no privileges, per-upstream local ports.
import { bookinfoSuite } from "./bookinfo-suite.js";

bookinfoSuite({ transparent: false });
