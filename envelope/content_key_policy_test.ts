import assert from "node:assert/strict";
import {
  MAX_CONTENT_KEY_AGE_MS,
  MAX_MESSAGES_PER_CONTENT_KEY,
  mayReuseContentKey,
} from "./content_key_policy.ts";

const KID = "0123456789abcdef0123456789abcdef01234567";
const CREATED = 1_700_000_000_000;

Deno.test("mayReuseContentKey() allows a fresh key to the same recipient", () => {
  assert.equal(
    mayReuseContentKey({ kid: KID, createdAt: CREATED, messages: 0 }, KID, CREATED),
    true,
  );
});

Deno.test("mayReuseContentKey() stops at the message limit", () => {
  const usage = (messages: number) => ({ kid: KID, createdAt: CREATED, messages });
  assert.equal(MAX_MESSAGES_PER_CONTENT_KEY, 2 ** 20);
  assert.equal(mayReuseContentKey(usage(MAX_MESSAGES_PER_CONTENT_KEY - 1), KID, CREATED), true);
  assert.equal(mayReuseContentKey(usage(MAX_MESSAGES_PER_CONTENT_KEY), KID, CREATED), false);
});

Deno.test("mayReuseContentKey() stops at the age limit and when the clock went back", () => {
  const usage = { kid: KID, createdAt: CREATED, messages: 1 };
  assert.equal(MAX_CONTENT_KEY_AGE_MS, 7 * 24 * 3600 * 1000);
  assert.equal(mayReuseContentKey(usage, KID, CREATED + MAX_CONTENT_KEY_AGE_MS - 1), true);
  assert.equal(mayReuseContentKey(usage, KID, CREATED + MAX_CONTENT_KEY_AGE_MS), false);
  assert.equal(mayReuseContentKey(usage, KID, CREATED - 1), false);
});

Deno.test("mayReuseContentKey() refuses a key wrapped to another recipient", () => {
  const usage = { kid: KID, createdAt: CREATED, messages: 1 };
  assert.equal(mayReuseContentKey(usage, "f".repeat(40), CREATED), false);
});
