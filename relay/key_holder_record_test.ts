import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { API } from "../protocol/paths.ts";
import { readRelayRecord, relayRecordDigest } from "../protocol/relay_record.ts";
import {
  readRelayRequestAuth,
  RELAY_AUTH_HEADER,
  verifyRelayRequest,
} from "../protocol/relay_request.ts";
import { eventually } from "../tests/eventually.ts";
import { KeyHolderRecord, relaySelf } from "./key_holder_record.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

interface Received {
  path: string;
  header: string | null;
  body: Uint8Array<ArrayBuffer>;
}

/** A parent that answers every record with `status` and keeps what it received. */
function fakeParent(status: () => number) {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    received.push({
      path: new URL(req.url).pathname,
      header: req.headers.get(RELAY_AUTH_HEADER),
      body: new Uint8Array(await req.arrayBuffer()),
    });
    const code = status();
    return Response.json(
      code === 200
        ? { status: "recorded" }
        : { error: { code: "ERR_RELAY_NOT_ALLOWED", message: "no" } },
      { status: code },
    );
  });
  return { received, url: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

Deno.test("KeyHolderRecord sends a signed, digest-bound record at start and again as soon as the keys change", async () => {
  const parent = fakeParent(() => 200);
  const keys = await generateSigningKeyPair();
  let kids = [KID_B];
  const record = new KeyHolderRecord({
    parentUrl: parent.url,
    identity: { computerId: 12, privateKey: keys.privateKey },
    kids: () => kids,
    log: silentLogger,
    checkMs: 20,
  });
  try {
    record.start({ name: "relay-a:52311", url: "http://relay-a:52311" });
    await eventually(() => parent.received.length === 1 ? true : undefined, "the first record");
    kids = [KID_B, KID_A];
    await eventually(
      () => parent.received.length === 2 ? true : undefined,
      "the record of the new key",
    );
    for (const [index, expected] of [[KID_B], [KID_A, KID_B]].entries()) {
      const { path, header, body } = parent.received[index];
      assert.equal(path, `${API.relayRecord}/${await relayRecordDigest(body)}`);
      const auth = readRelayRequestAuth(header)!;
      assert.equal(auth.computerId, 12);
      assert.ok(await verifyRelayRequest(keys.publicKey, auth, "POST", path));
      assert.deepEqual(readRelayRecord(body), {
        name: "relay-a:52311",
        url: "http://relay-a:52311",
        kids: expected,
      });
    }
  } finally {
    await record.stop();
    await parent.stop();
  }
});

Deno.test("KeyHolderRecord retries a refused record at the next interval only, and sends nothing unregistered", async () => {
  let status = 403;
  const parent = fakeParent(() => status);
  const keys = await generateSigningKeyPair();
  let now = 0;
  const identity = { computerId: null as number | null, privateKey: keys.privateKey };
  const record = new KeyHolderRecord({
    parentUrl: parent.url,
    identity,
    kids: () => [KID_A],
    log: silentLogger,
    intervalMs: 10_000,
    now: () => now,
  });
  record.start({ name: "r:1", url: "http://r:1" });
  try {
    await record.tick();
    assert.equal(parent.received.length, 0, "an unregistered relay sent a record");
    identity.computerId = 5;
    now = 10_000;
    await record.tick();
    assert.equal(parent.received.length, 1);
    now = 15_000;
    await record.tick();
    assert.equal(parent.received.length, 1, "a refused record was retried before the interval");
    status = 200;
    now = 20_000;
    await record.tick();
    assert.equal(parent.received.length, 2);
  } finally {
    await record.stop();
    await parent.stop();
  }
});

Deno.test("relaySelf() names the relay by host and port, and gives a wildcard listener the host's name", () => {
  assert.deepEqual(relaySelf({ hostname: "127.0.0.1", port: 52311 }, {}), {
    name: "127.0.0.1:52311",
    url: "http://127.0.0.1:52311",
  });
  assert.deepEqual(relaySelf({ hostname: "0.0.0.0", port: 52311 }, { HOSTNAME: "relay-a" }), {
    name: "relay-a:52311",
    url: "http://relay-a:52311",
  });
  assert.deepEqual(relaySelf({ hostname: "::1", port: 1 }, {}).url, "http://[::1]:1");
});
