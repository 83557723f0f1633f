import assert from "node:assert/strict";
import { signReport } from "../envelope/report_message.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { errorBody } from "../protocol/http_error.ts";
import { SENDER_REFUSAL_CODES, UpstreamRefusals } from "./upstream_refusals.ts";

const key = await generateSigningKeyPair();

async function messageOf(cid: number): Promise<Uint8Array> {
  const report = await signReport(
    key.privateKey,
    { cid, seq: 1, kid: null },
    new TextEncoder().encode("{}"),
  );
  return new TextEncoder().encode(JSON.stringify(report));
}

function clock() {
  let now = 0;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

Deno.test("a refusal of the sender is remembered for its computer and given back as the parent said it", async () => {
  const refusals = new UpstreamRefusals();
  const body = errorBody("ERR_KEY_EXCHANGE_REQUIRED", "run mle-client register first");
  assert.equal(refusals.noteRefusal(await messageOf(7), { status: 403, body }), 7);
  assert.deepEqual(refusals.refusalFor(7), { status: 403, body });
  assert.equal(refusals.refusalFor(8), null);
  for (const code of SENDER_REFUSAL_CODES) {
    assert.equal(
      refusals.noteRefusal(await messageOf(9), { status: 403, body: errorBody(code, "x") }),
      9,
      code,
    );
  }
});

Deno.test("refusals of the message itself, and answers that are not refusals, are not remembered", async () => {
  const refusals = new UpstreamRefusals();
  const message = await messageOf(7);
  for (
    const answer of [
      { status: 400, body: errorBody("ERR_ENVELOPE_MALFORMED", "x") },
      { status: 403, body: errorBody("ERR_SIGNATURE_INVALID", "x") },
      { status: 409, body: errorBody("ERR_DUPLICATE_REPORT", "x") },
      { status: 503, body: errorBody("ERR_UNKNOWN_COMPUTER", "x") },
      { status: 403, body: null },
    ]
  ) {
    assert.equal(refusals.noteRefusal(message, answer), null, JSON.stringify(answer));
  }
  const garbage = new TextEncoder().encode("not a message");
  assert.equal(
    refusals.noteRefusal(garbage, { status: 403, body: errorBody("ERR_UNKNOWN_COMPUTER", "x") }),
    null,
  );
  assert.equal(refusals.size, 0);
});

Deno.test("a refusal is forgotten after its time, or when the computer registers again", async () => {
  const time = clock();
  const refusals = new UpstreamRefusals({ ttlMs: 1000, now: time.now });
  const answer = { status: 403, body: errorBody("ERR_COMPUTER_REPLACED", "x") };
  refusals.noteRefusal(await messageOf(7), answer);
  refusals.noteRefusal(await messageOf(8), answer);
  time.advance(999);
  assert.ok(refusals.refusalFor(7));
  time.advance(1);
  assert.equal(refusals.refusalFor(7), null);
  refusals.noteRefusal(await messageOf(8), answer);
  refusals.forget(8);
  assert.equal(refusals.refusalFor(8), null);
});

Deno.test("memory stays bounded however many computers are refused", async () => {
  const refusals = new UpstreamRefusals({ maxComputers: 10 });
  const answer = { status: 404, body: errorBody("ERR_UNKNOWN_COMPUTER", "x") };
  for (let cid = 1; cid <= 50; cid++) refusals.noteRefusal(await messageOf(cid), answer);
  assert.equal(refusals.size, 10);
  assert.ok(refusals.refusalFor(50));
  assert.equal(refusals.refusalFor(1), null);
});

Deno.test("what is remembered stays small whatever the parent said", async () => {
  const refusals = new UpstreamRefusals();
  const body = {
    ...errorBody("ERR_UNKNOWN_COMPUTER", "x".repeat(60_000)),
    extra: "y".repeat(60_000),
  };
  refusals.noteRefusal(await messageOf(7), { status: 404, body });
  const given = refusals.refusalFor(7)!;
  assert.equal(given.status, 404);
  assert.ok(JSON.stringify(given.body).length < 1000);
  assert.equal((given.body as { error: { code: string } }).error.code, "ERR_UNKNOWN_COMPUTER");
});
