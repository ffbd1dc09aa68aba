// Access-log formats as Envoy configures them: command operators in text formats and json_format (typed values,
// nested objects, unset as "-" or null), a bad operator refused with the config, and TCP connections logged by
// tcp_proxy's access_log in the same formats.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { compileJson, compileText, type LogRecord } from "../../src/proxy/access-log/log-format.js";
import { echo, get, httpListener, proxy, ROUTER, staticCluster } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-log-format-"));
const cleanup: Array<() => Promise<void> | void> = [];
after(async () => { for (const c of cleanup) await c(); rmSync(dir, { recursive: true, force: true }); });

const record: LogRecord = {
  startTime: Date.parse("2026-11-25T08:00:00.000Z"), responseCode: 503, flags: ["UF", "URX"], bytesReceived: 12, bytesSent: 34, protocol: "HTTP/1.1",
  upstreamHost: "10.0.0.1:9080", upstreamCluster: "outbound|9080||reviews", routeName: "default", downstreamRemote: "127.0.0.1:5555", downstreamLocal: "127.0.0.1:15001",
  peerPrincipal: undefined, serverName: undefined,
  requestHeader: (n) => ({ ":method": "GET", ":path": "/api/v1?x=1", "x-request-id": "abc-123", "user-agent": "curl/8" } as Record<string, string>)[n],
  responseHeader: (n) => (n === "content-type" ? "text/plain" : undefined), responseTrailer: () => undefined,
};

test("text formats: operators with alternatives, truncation and '-' for unset values", () => {
  const f = compileText("%START_TIME% %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %REQ(X-REQUEST-ID):3% %RESP(CONTENT-TYPE)% %DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%\n", "t");
  assert.equal(f(record), "2026-11-25T08:00:00.000Z GET /api/v1?x=1 503 UF,URX abc text/plain - 127.0.0.1\n");
});

test("json_format: one operator keeps its type, mixed text is a string, unset is null, objects nest", () => {
  const f = compileJson({ code: "%RESPONSE_CODE%", bytes: "%BYTES_SENT%", who: "%REQ(USER-AGENT)% via %UPSTREAM_CLUSTER%", san: "%DOWNSTREAM_PEER_URI_SAN%", upstream: { host: "%UPSTREAM_HOST%", fixed: "v1" } }, "j");
  assert.deepEqual(JSON.parse(f(record)), { code: 503, bytes: 34, who: "curl/8 via outbound|9080||reviews", san: null, upstream: { host: "10.0.0.1:9080", fixed: "v1" } });
});

test("an unknown command operator is refused with the config, naming it and where", () => {
  assert.throws(() => compileText("%NOT_AN_OPERATOR%", "listener l.access_log[0]"), /listener l\.access_log\[0\]: the command operator %NOT_AN_OPERATOR% is not supported/);
  assert.throws(() => compileText("%REQ()%", "x"), /needs a header name/);
});

test("a proxy writes custom text and JSON lines per HTTP request, and a line per TCP connection", async () => {
  const b = await echo("b");
  cleanup.push(() => b.close());
  const tcpEcho = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => tcpEcho.listen(0, "127.0.0.1", r));
  cleanup.push(() => new Promise<void>((r) => tcpEcho.close(() => r())));
  const [textFile, jsonFile, tcpFile] = ["text.log", "json.log", "tcp.log"].map((n) => join(dir, n));
  const FILE = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog";
  const logs = [
    { name: "envoy.access_loggers.file", typed_config: { "@type": FILE, path: textFile, log_format: { text_format_source: { inline_string: "%REQ(:METHOD)% %REQ(:PATH)% %RESPONSE_CODE% %UPSTREAM_CLUSTER%\n" } } } },
    { name: "envoy.access_loggers.file", typed_config: { "@type": FILE, path: jsonFile, log_format: { json_format: { status: "%RESPONSE_CODE%", path: "%REQ(:PATH)%", id: "%REQ(X-REQUEST-ID)%" } } } },
  ];
  const p = await proxy([
    httpListener("h", { virtual_hosts: [{ name: "all", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "b" } }] }] }, [ROUTER], { access_log: logs }),
    { name: "t", address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: [{ filters: [{ name: "envoy.filters.network.tcp_proxy", typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy", stat_prefix: "t", cluster: "echo",
      access_log: [{ name: "envoy.access_loggers.file", typed_config: { "@type": FILE, path: tcpFile } }] } }] }] },
  ], [staticCluster("b", [b.port]), staticCluster("echo", [(tcpEcho.address() as AddressInfo).port])]);
  cleanup.unshift(() => p.stop());
  assert.equal((await get(p.url("/hello", "h"))).status, 200);
  const echoed = await new Promise<string>((resolve) => {
    const s = connect(p.port("t"), "127.0.0.1");
    let got = "";
    s.on("data", (d: Buffer) => {
      got += d;
      if (got.length >= 5) s.end();
    });
    s.on("close", () => resolve(got));
    s.write("ping!");
  });
  assert.equal(echoed, "ping!");
  // Lines are written when a request or connection ends; give the file writes a moment (bounded).
  const read = async (f: string) => {
    for (let i = 0; i < 50; i++) {
      const text = (() => { try { return readFileSync(f, "utf8"); } catch { return ""; } })();
      if (text.endsWith("\n")) return text;
      await new Promise((r) => setTimeout(r, 50));
    }
    return "";
  };
  assert.equal(await read(textFile), "GET /hello 200 b\n");
  const json = JSON.parse(await read(jsonFile)) as { status: number; path: string; id: string };
  assert.equal(json.status, 200);
  assert.equal(json.path, "/hello");
  assert.match(json.id, /^[0-9a-f-]{36}$/, "the request id the proxy generated");
  assert.match(await read(tcpFile), /^\[[^\]]+\] "- - -" 0 - 5 5 \d+ - "-" "-" "-" "-" "127\.0\.0\.1:\d+"\n$/);
});
