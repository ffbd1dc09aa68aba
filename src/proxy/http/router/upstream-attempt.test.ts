// What one attempt puts on the wire: the HTTP/1.1 head (hop-by-hop fields and values that could split the head
// dropped, framing added) and the HTTP/2 header block (pseudo-headers first, te: trailers for gRPC).
import assert from "node:assert/strict";
import { test } from "node:test";
import { requestHead } from "./h1-attempt.js";
import { h2RequestHeaders } from "./h2-attempt.js";

test("the HTTP/1.1 head: request line, host, forwarded fields, framing; no hop-by-hop or unsafe values", () => {
  const head = requestHead("POST", "/a?b=1", "reviews:9080", {
    "x-ok": "1", connection: "close", "keep-alive": "5", "transfer-encoding": "chunked", upgrade: "websocket", te: "trailers", host: "evil",
    ":authority": "x", "x-split": "a\r\nx-injected: 1", "x-multi": ["a", "b"], "x-absent": undefined,
  }, "chunked");
  assert.equal(head, "POST /a?b=1 HTTP/1.1\r\nhost: reviews:9080\r\nx-ok: 1\r\nx-multi: a\r\nx-multi: b\r\ntransfer-encoding: chunked\r\n\r\n");
  assert.equal(requestHead("GET", "/", "h", {}, "none"), "GET / HTTP/1.1\r\nhost: h\r\n\r\n");
  assert.equal(requestHead("PUT", "/", "h", { "content-length": "3" }, "length"), "PUT / HTTP/1.1\r\nhost: h\r\ncontent-length: 3\r\n\r\n");
});

test("the HTTP/2 header block: pseudo-headers, forwarded fields, te: trailers only for gRPC", () => {
  const h = h2RequestHeaders("POST", "/svc/M", "grpc:50051", { "content-type": "application/grpc", connection: "x", ":path": "/other", te: "gzip" }, true);
  assert.deepEqual(h, { ":method": "POST", ":path": "/svc/M", ":authority": "grpc:50051", ":scheme": "http", "content-type": "application/grpc", te: "trailers" });
  assert.equal(h2RequestHeaders("GET", "/", "a", {}, false).te, undefined);
});
