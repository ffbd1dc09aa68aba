// `trellis run --address`: only an address of this host's interfaces; the default follows the route to the control plane.
import { test } from "node:test";
import assert from "node:assert/strict";
import { addressToward, checkAddress } from "./workload-address.js";

test("--address must be one of this host's, and the default is the address toward the control plane", async () => {
  assert.equal(checkAddress("127.0.0.1"), "127.0.0.1");
  assert.throws(() => checkAddress("reviews"), /must be an IP address of this host/);
  assert.throws(() => checkAddress("192.0.2.77"), /is not an address of this host's interfaces/);
  assert.equal(await addressToward("127.0.0.1"), "127.0.0.1");
});
