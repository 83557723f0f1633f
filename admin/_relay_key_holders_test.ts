import assert from "node:assert/strict";
import { CliError } from "../cli/output.ts";
import { type DecryptingRelayRecord, RELAY_LIVE_WITHIN_MS } from "../store/mod.ts";
import {
  describeRelayHolders,
  relaysHolding,
  requireLiveRelaysHold,
} from "./_relay_key_holders.ts";
import { KID_A } from "../envelope/_test_key_ids.ts";

const NOW = 1_000_000;

function relay(computerId: number, kids: string[], lastSeenAt = NOW): DecryptingRelayRecord {
  return {
    computerId,
    name: `relay-${computerId}:52311`,
    url: `http://r${computerId}`,
    lastSeenAt,
    kids,
  };
}

function storeOf(...relays: DecryptingRelayRecord[]) {
  return { listDecryptingRelays: () => Promise.resolve(relays) };
}

Deno.test("requireLiveRelaysHold() refuses a key a live decrypting relay lacks, naming it and the import to run there", async () => {
  const error = await requireLiveRelaysHold(
    storeOf(relay(3, [KID_A]), relay(4, [])),
    KID_A,
    { force: false, warn: () => assert.fail("warned"), now: () => NOW, graceMs: 0 },
  ).then(() => null, (error) => error);
  assert.ok(error instanceof CliError);
  assert.match(error.message, /ERR_KEY_NOT_ON_RELAY/);
  assert.match(error.message, /relay-4:52311 \(computer 4, http:\/\/r4\)/);
  assert.doesNotMatch(error.message, /relay-3/);
  assert.match(
    error.hint ?? "",
    new RegExp(`mle-admin encryption import --from DIR --kid ${KID_A} --data-dir RELAY_DIR`),
  );
});

Deno.test("requireLiveRelaysHold() passes when every live relay holds the key, ignores a stopped one, and warns with --force", async () => {
  const stale = relay(5, [], NOW - RELAY_LIVE_WITHIN_MS - 1);
  await requireLiveRelaysHold(storeOf(relay(3, [KID_A]), stale), KID_A, {
    force: false,
    warn: () => assert.fail("warned"),
    now: () => NOW,
    graceMs: 0,
  });
  const warnings: string[] = [];
  await requireLiveRelaysHold(storeOf(relay(4, [])), KID_A, {
    force: true,
    warn: (message) => warnings.push(message),
    now: () => NOW,
    graceMs: 0,
  });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /ERR_KEY_NOT_ON_RELAY.*--force/);
});

Deno.test("requireLiveRelaysHold() waits for a relay that records the key within the grace", async () => {
  let calls = 0;
  const store = {
    listDecryptingRelays: () => Promise.resolve([relay(4, ++calls >= 3 ? [KID_A] : [])]),
  };
  await requireLiveRelaysHold(store, KID_A, {
    force: false,
    warn: () => assert.fail("warned"),
    now: () => NOW,
  });
  assert.ok(calls >= 3);
});

Deno.test("relaysHolding() lists the relays holding a key, live or not", () => {
  const holders = relaysHolding(
    [relay(3, [KID_A]), relay(4, []), relay(5, [KID_A], NOW - RELAY_LIVE_WITHIN_MS - 1)],
    KID_A,
    NOW,
  );
  assert.deepEqual(holders.map((holder) => [holder.computerId, holder.live]), [[3, true], [
    5,
    false,
  ]]);
  assert.equal(
    describeRelayHolders(holders),
    "relay-3:52311 (computer 3), relay-5:52311 (computer 5, not running)",
  );
  assert.equal(describeRelayHolders([]), "-");
});
