// Node flags every sidecar process starts with. V8 lets the young generation grow to 2 x 16 MiB; a proxy's garbage
// is short-lived request state, so 2 x 2 MiB holds it, for about 14 MiB less resident memory per sidecar at the
// cost of more frequent (cheap) scavenges: about 5% more CPU per request in bench/ (http1-latency).
// --single-threaded-gc: a sidecar shares its cores with its app, and a parallel scavenge waits for helper threads
// that may not get one; scavenging on the proxy's own thread gave less GC time per 1,000 requests in 5 of 6
// interleaved pairs and a shorter longest pause in 5 of 6, CPU per request no worse (bench proxy-alloc at load
// average 15-27; figures in bench/README.md, issue #19).
export const PROXY_NODE_FLAGS = ["--max-semi-space-size=2", "--single-threaded-gc"];
