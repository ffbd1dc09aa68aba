// Which ADMIN_ADDRESS/STATS_ADDRESS values the control plane may dial: only addresses on the host the xDS stream
// came from (issue #25 item 8's SSRF: a token holder off-host aiming the control plane at its own loopback API).
import assert from "node:assert/strict";
import { test } from "node:test";
import { dropUnprovenAddresses, unprovenAddress } from "./proven-address.js";

test("an address is proven only by a stream from its host; loopback streams prove loopback addresses", () => {
  const table: Array<[string, string, boolean]> = [
    ["127.0.0.1:15000", "127.0.0.1:40000", true],
    ["127.0.0.2:15000", "127.0.0.1:40000", true],
    ["[::1]:15000", "[::1]:40000", true],
    ["10.0.0.5:15000", "10.0.0.5:40000", true],
    ["10.0.0.5:15000", "[::ffff:10.0.0.5]:40000", true],
    ["127.0.0.1:15014", "192.0.2.7:40000", false],
    ["169.254.169.254:80", "192.0.2.7:40000", false],
    ["10.0.0.6:15000", "10.0.0.5:40000", false],
    ["metadata.internal:80", "127.0.0.1:40000", false],
    ["127.0.0.1:99999", "127.0.0.1:40000", false],
  ];
  for (const [address, peer, ok] of table) assert.equal(unprovenAddress("ADMIN_ADDRESS", address, peer) === undefined, ok, `${address} from ${peer}`);
});

test("unproven addresses are dropped from the workload with a reason naming the key", () => {
  const w = { adminAddress: "127.0.0.1:15014", statsAddress: "192.0.2.7:15020" };
  const why = dropUnprovenAddresses(w, "192.0.2.7:5000");
  assert.deepEqual(w, { adminAddress: undefined, statsAddress: "192.0.2.7:15020" });
  assert.equal(why.length, 1);
  assert.match(why[0], /ADMIN_ADDRESS 127.0.0.1:15014 is not on the host the stream came from \(192.0.2.7\)/);
});
