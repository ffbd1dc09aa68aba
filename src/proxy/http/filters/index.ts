// Registers every HTTP filter Trellis serves; adding a filter is one file here plus one import line.
import "./router-filter.js";
import "./fault.js";
import "./rbac.js";
import "./jwt-authn.js";
import "./cors.js";
import "./local-ratelimit.js";
import "./ext-authz.js";
import "./compressor.js";
import "./decompressor.js";
import "./csrf.js";
import "./health-check.js";
