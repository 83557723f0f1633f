import assert from "node:assert/strict";
import { Hono } from "hono";
import { silentLogger } from "../cli/log.ts";
import { errorBody } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { encodeRelayRecord, relayRecordDigest } from "../protocol/relay_record.ts";
import { RELAY_AUTH_HEADER, signRelayRequest } from "../protocol/relay_request.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import type { Store } from "../store/mod.ts";
import { ComputerDirectory } from "./computer_directory.ts";
import { IngestError } from "./ingest_error.ts";
import { createRelayRecordApp } from "./relay_record_route.ts";
import { openTestServer, registerTestComputer, type TestComputer } from "./_test_server.ts";
import { KID_A, KID_B } from "../envelope/_test_key_ids.ts";

const encoder = new TextEncoder();

interface Fixture {
  dir: string;
  store: Store;
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> };
  relay: TestComputer;
}

async function withServer(run: (fixture: Fixture) => Promise<void>): Promise<void> {
  const { dir, store, app } = await openTestServer("mle-relay-record-test-");
  try {
    const relay = await registerTestComputer(store, "relay");
    await store.setBundleSender(relay.id, true, Date.now());
    await run({ dir, store, app, relay });
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A record request as a relay sends it, with its parts replaceable. */
async function signedRecord(
  signer: TestComputer,
  claim = { name: "relay-a:52311", url: "http://relay-a:52311", kids: [KID_B, KID_A] },
  options: { signedAs?: number; issuedAt?: number } = {},
): Promise<{ path: string; body: Uint8Array<ArrayBuffer>; header: string }> {
  const { path, body } = await encodeRelayRecord(claim);
  const header = await signRelayRequest(
    signer.keys.privateKey,
    options.signedAs ?? signer.id,
    "POST",
    path,
    options.issuedAt,
  );
  return { path, body, header };
}

function post(
  fixture: Pick<Fixture, "app">,
  path: string,
  body: Uint8Array<ArrayBuffer>,
  header?: string,
) {
  return fixture.app.request(path, {
    method: "POST",
    headers: header === undefined ? {} : { [RELAY_AUTH_HEADER]: header },
    body,
  });
}

Deno.test("POST relays/record stores an allowed relay's signed record, at the server's time", async () => {
  await withServer(async (fixture) => {
    const before = Date.now();
    const { path, body, header } = await signedRecord(fixture.relay);
    const response = await post(fixture, path, body, header);
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { status: "recorded", computerId: fixture.relay.id });
    const [record, ...others] = await fixture.store.listDecryptingRelays();
    assert.equal(others.length, 0);
    assert.deepEqual({ ...record, lastSeenAt: 0 }, {
      computerId: fixture.relay.id,
      name: "relay-a:52311",
      url: "http://relay-a:52311",
      lastSeenAt: 0,
      kids: [KID_A, KID_B],
    });
    assert.ok(record.lastSeenAt >= before && record.lastSeenAt <= Date.now());
  });
});

Deno.test("POST relays/record refuses forged, unauthenticated, swapped and malformed records and stores nothing", async () => {
  await withServer(async (fixture) => {
    const { relay, store } = fixture;
    const stranger = await registerTestComputer(store, "stranger"); // registered, never allowed
    const good = await signedRecord(relay);
    const other = await encodeRelayRecord({ name: "evil", url: "http://evil:1", kids: [] });
    const strangerKey = { id: relay.id, keys: await generateSigningKeyPair() };
    const invalidBody = encoder.encode(JSON.stringify({ name: "", url: "x", kids: "all" }));
    const invalidPath = `${API.relayRecord}/${await relayRecordDigest(invalidBody)}`;
    const cases: [string, string, Uint8Array<ArrayBuffer>, string | undefined, number, string][] = [
      ["no header", good.path, good.body, undefined, 403, "ERR_RELAY_AUTH_REQUIRED"],
      ["a malformed header", good.path, good.body, "1.2.3", 403, "ERR_RELAY_AUTH_REQUIRED"],
      [
        "signed by a key that is not the relay's",
        good.path,
        good.body,
        (await signedRecord(strangerKey)).header,
        403,
        "ERR_RELAY_AUTH_INVALID",
      ],
      [
        "signed an hour ago",
        good.path,
        good.body,
        (await signedRecord(relay, undefined, { issuedAt: Date.now() - 3_600_000 })).header,
        403,
        "ERR_RELAY_AUTH_EXPIRED",
      ],
      [
        "a registered computer the administrator did not allow",
        good.path,
        good.body,
        (await signedRecord(stranger)).header,
        403,
        "ERR_RELAY_NOT_ALLOWED",
      ],
      [
        "another body under the captured path and signature",
        good.path,
        other.body,
        good.header,
        400,
        "ERR_RELAY_RECORD_DIGEST",
      ],
      [
        "another body and its path under the captured signature",
        other.path,
        other.body,
        good.header,
        403,
        "ERR_RELAY_AUTH_INVALID",
      ],
      [
        "a path without a digest",
        `${API.relayRecord}/not-a-digest`,
        good.body,
        good.header,
        400,
        "ERR_RELAY_RECORD_DIGEST",
      ],
      [
        "an oversized body",
        good.path,
        new Uint8Array(8 * 1024),
        good.header,
        413,
        "ERR_TOO_LARGE",
      ],
      [
        "a signed, digest-bound body that is not a record",
        invalidPath,
        invalidBody,
        await signRelayRequest(relay.keys.privateKey, relay.id, "POST", invalidPath),
        400,
        "ERR_RELAY_RECORD_INVALID",
      ],
    ];
    for (const [what, path, body, header, status, code] of cases) {
      const response = await post(fixture, path, body, header);
      const answer = await response.json();
      assert.equal(response.status, status, `${what}: ${JSON.stringify(answer)}`);
      assert.equal(answer.error.code, code, what);
      assert.match(answer.error.message, /.{20}/, what);
    }
    assert.deepEqual(await store.listDecryptingRelays(), []);
  });
});

Deno.test("POST relays/record costs no lookup for a request without a valid header or with a body its path does not name", async () => {
  const lookups: number[] = [];
  const computers = {
    get: (id: number) => {
      lookups.push(id);
      return Promise.resolve(null);
    },
  } as unknown as ComputerDirectory;
  const recorded: unknown[] = [];
  const app = new Hono();
  // The server app's error mapping, as `server/app.ts` mounts the route.
  app.onError((error, c) =>
    error instanceof IngestError
      ? c.json(errorBody(error.code, error.message), error.status)
      : c.text(String(error), 500)
  );
  app.route(
    API.relayRecord,
    createRelayRecordApp({
      store: {
        isBundleSender: () => Promise.resolve(true),
        recordDecryptingRelay: (record) => Promise.resolve(void recorded.push(record)),
      },
      computers,
      now: Date.now,
      log: silentLogger,
    }),
  );
  const relay = { id: 7, keys: await generateSigningKeyPair() };
  const good = await signedRecord(relay);
  const other = await encodeRelayRecord({ name: "evil", url: "http://evil:1", kids: [] });
  for (
    const [path, body, header, status] of [
      [good.path, good.body, undefined, 403],
      [good.path, good.body, "7.1.x", 403],
      [good.path, other.body, good.header, 400],
    ] as const
  ) {
    const response = await app.request(path, {
      method: "POST",
      headers: header === undefined ? {} : { [RELAY_AUTH_HEADER]: header },
      body,
    });
    await response.body?.cancel();
    assert.equal(response.status, status);
  }
  assert.deepEqual(lookups, []);
  assert.deepEqual(recorded, []);
});
