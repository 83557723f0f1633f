import assert from "node:assert/strict";
import { KeyExchangeThrottle, sourceOf } from "./key_exchange_throttle.ts";

function clock(start = 0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

Deno.test("a source gets its burst of failures, then one per refill period", () => {
  const time = clock();
  const throttle = new KeyExchangeThrottle({ burst: 3, refillMs: 1000, now: time.now });
  for (let i = 0; i < 3; i++) {
    assert.equal(throttle.waitMs("192.0.2.7"), 0, `attempt ${i + 1} may go`);
    throttle.failed("192.0.2.7");
  }
  assert.equal(throttle.waitMs("192.0.2.7"), 1000);
  time.advance(400);
  assert.equal(throttle.waitMs("192.0.2.7"), 600);
  time.advance(600);
  assert.equal(throttle.waitMs("192.0.2.7"), 0);
  throttle.failed("192.0.2.7");
  assert.equal(throttle.waitMs("192.0.2.7"), 1000, "one token grew back, and it was spent");
});

Deno.test("other sources are not slowed by one that guesses", () => {
  const throttle = new KeyExchangeThrottle({ burst: 1, refillMs: 60_000, now: () => 0 });
  throttle.failed("192.0.2.7");
  assert.ok(throttle.waitMs("192.0.2.7") > 0);
  assert.equal(throttle.waitMs("192.0.2.8"), 0);
  assert.equal(throttle.waitMs("2001:db8::1"), 0);
});

Deno.test("a source is forgotten once all its failures are forgiven", () => {
  const time = clock();
  const throttle = new KeyExchangeThrottle({ burst: 2, refillMs: 1000, now: time.now });
  throttle.failed("192.0.2.7");
  throttle.failed("192.0.2.7");
  assert.equal(throttle.size, 1);
  time.advance(2000);
  assert.equal(throttle.waitMs("192.0.2.7"), 0);
  assert.equal(throttle.size, 0);
});

Deno.test("memory stays bounded however many sources fail", () => {
  const time = clock();
  const throttle = new KeyExchangeThrottle({
    burst: 1,
    refillMs: 60_000,
    maxSources: 100,
    now: time.now,
  });
  for (let i = 0; i < 1000; i++) {
    throttle.failed(`10.0.${i >> 8}.${i & 255}`);
    time.advance(1);
  }
  assert.equal(throttle.size, 100);
  assert.ok(throttle.waitMs("10.0.3.231") > 0, "the most recent failures are remembered");
  assert.equal(throttle.waitMs("10.0.0.0"), 0, "the oldest were forgotten");
});

Deno.test("addresses of one IPv6 /64 count as one source; IPv4-mapped ones as their IPv4", () => {
  assert.equal(sourceOf("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("[2001:0db8:0001:0002:ffff:ffff:ffff:ffff]"), "2001:db8:1:2::/64");
  assert.equal(sourceOf("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(sourceOf("::1"), "0:0:0:0::/64");
  assert.equal(sourceOf("fe80::1%eth0"), "fe80:0:0:0::/64");
  assert.equal(sourceOf("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(sourceOf("192.0.2.7"), "192.0.2.7");
  assert.equal(sourceOf(null), "unknown");
  const throttle = new KeyExchangeThrottle({ burst: 1, refillMs: 60_000, now: () => 0 });
  throttle.failed("2001:db8:1:2::10");
  assert.ok(throttle.waitMs("2001:db8:1:2::11") > 0, "a neighbour in the /64 waits too");
  assert.equal(throttle.waitMs("2001:db8:1:3::10"), 0);
});

Deno.test("a throttle refuses nonsense tuning", () => {
  assert.throws(() => new KeyExchangeThrottle({ burst: 0 }), RangeError);
  assert.throws(() => new KeyExchangeThrottle({ refillMs: 0 }), RangeError);
  assert.throws(() => new KeyExchangeThrottle({ maxSources: 0 }), RangeError);
});

Deno.test("KeyExchangeThrottle: a source's budget grows with the admitted clients behind it", () => {
  const throttle = new KeyExchangeThrottle({ burst: 2, refillMs: 60_000, now: () => 0 });
  for (const cid of [1, 2, 3]) throttle.noteClient("192.0.2.1", cid);
  throttle.noteClient("192.0.2.1", 3); // counted once
  // (1 + 3 clients) × 2 failures before the shared address waits; another address waits after 2.
  for (let i = 0; i < 7; i++) throttle.failed("192.0.2.1");
  assert.equal(throttle.waitMs("192.0.2.1"), 0);
  throttle.failed("192.0.2.1");
  assert.equal(throttle.waitMs("192.0.2.1"), 15_000, "and refills four times as fast");
  throttle.failed("192.0.2.9");
  throttle.failed("192.0.2.9");
  assert.equal(throttle.waitMs("192.0.2.9"), 60_000);
  // A client that moves counts where it is now.
  for (const cid of [1, 2, 3]) throttle.noteClient("192.0.2.9", cid);
  assert.ok(throttle.waitMs("192.0.2.9") < 60_000);
});

Deno.test("KeyExchangeThrottle forgets the oldest clients beyond maxClients", () => {
  const throttle = new KeyExchangeThrottle({
    burst: 1,
    refillMs: 60_000,
    maxClients: 2,
    now: () => 0,
  });
  for (const cid of [1, 2, 3]) throttle.noteClient("192.0.2.1", cid);
  // Two clients remembered: (1 + 2) × 1 failures allowed.
  for (let i = 0; i < 3; i++) throttle.failed("192.0.2.1");
  assert.ok(throttle.waitMs("192.0.2.1") > 0);
});
