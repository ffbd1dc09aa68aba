// Load balancing for clusters: the contract and registry (lb/lb-policy.ts) with every built-in policy registered,
// one file each under lb/.
import "./lb/round-robin.js";
import "./lb/least-request.js";
import "./lb/random.js";
import "./lb/ring-hash.js";
import "./lb/maglev.js";

export { createLoadBalancer, type LoadBalancer, registeredLbPolicies } from "./lb/lb-policy.js";
export { hash32 } from "./lb/hash32.js";
