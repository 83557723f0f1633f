import assert from "node:assert/strict";
import { orderParents, ParentList } from "./parent_list.ts";

const A = "http://a.example:52311";
const B = "http://b.example:52311";
const C = "http://c.example:52311";

function list(options: Partial<ConstructorParameters<typeof ParentList>[0]> = {}) {
  return new ParentList({ parents: [A, B, C], random: () => 0.5, ...options });
}

Deno.test("orderParents() keeps the first place of each parent and drops trailing slashes", () => {
  assert.deepEqual(orderParents([B + "/"], [A, B, ""], [C, A]), [B, A, C]);
});

Deno.test("ParentList uses the first parent while it answers", () => {
  const parents = list();
  assert.deepEqual(parents.plan(0), [A]);
  parents.answered(A);
  assert.deepEqual(parents.plan(1), [A]);
  assert.match(parents.why(1), /parent 1 of 3: the first/);
});

Deno.test("ParentList moves to the next parent after a failure, without resist interval", () => {
  const parents = list();
  parents.failed(A, 0, "connection refused");
  // A is in its back-off (1 s × 0.75 with this jitter): B and C first, A last.
  assert.deepEqual(parents.plan(100), [B, C, A]);
  parents.answered(B);
  assert.deepEqual(parents.plan(200), [B]);
  assert.match(parents.why(200), /parent 2 of 3, because http:\/\/a\.example:52311 failing since/);
});

Deno.test("ParentList returns to the first parent once its back-off is over and it answers", () => {
  const parents = list();
  parents.failed(A, 0, "connection refused");
  parents.answered(B);
  assert.deepEqual(parents.plan(749), [B]);
  assert.deepEqual(parents.plan(750), [A, B]);
  parents.failed(A, 750, "connection refused"); // still down: the back-off doubles
  assert.deepEqual(parents.plan(750 + 1499), [B]);
  assert.deepEqual(parents.plan(750 + 1500), [A, B]);
  parents.answered(A);
  assert.deepEqual(parents.plan(3000), [A]);
  assert.deepEqual(parents.state, { inUse: A, health: {} });
});

Deno.test("ParentList keeps a failing parent for the resist interval, then switches", () => {
  const parents = list({ resistFailureMs: 10_000 });
  parents.answered(A);
  parents.failed(A, 0, "HTTP 503");
  assert.deepEqual(parents.plan(5_000), [A]);
  assert.match(parents.why(5_000), /kept for the resist interval/);
  parents.failed(A, 5_000, "HTTP 503");
  assert.deepEqual(parents.plan(9_999), [A]);
  assert.deepEqual(parents.plan(10_000), [A, B, C]); // the interval is over: the others too
  parents.failed(A, 10_000, "HTTP 503");
  assert.deepEqual(parents.plan(11_000), [B, C, A]); // A in its back-off: last
});

Deno.test("ParentList tries every parent when all are in their back-off", () => {
  const parents = list();
  for (const url of [A, B, C]) parents.failed(url, 0, "down");
  assert.deepEqual(parents.plan(1).length, 3);
  assert.deepEqual(new Set(parents.plan(1)), new Set([A, B, C]));
});

Deno.test("ParentList jitters the back-off between half and all of the delay", () => {
  const low = list({ random: () => 0 });
  const high = list({ random: () => 0.999 });
  low.failed(A, 0, "down");
  high.failed(A, 0, "down");
  assert.deepEqual(low.state.health[A].retryAt, 500);
  assert.deepEqual(high.state.health[A].retryAt, 1000);
});

Deno.test("ParentList forgets parents no longer listed and starts over at the first", () => {
  const parents = new ParentList({
    parents: [C, B],
    state: {
      inUse: A,
      health: { [A]: { failingSince: 0, failures: 1, retryAt: 9, lastError: "x" } },
    },
  });
  assert.deepEqual(parents.state, { inUse: null, health: {} });
  assert.deepEqual(parents.plan(0), [C]);
});

Deno.test("ParentList refuses an empty list and bad intervals", () => {
  assert.throws(() => new ParentList({ parents: [] }), RangeError);
  assert.throws(() => new ParentList({ parents: [A], resistFailureMs: -1 }), RangeError);
  assert.throws(() => new ParentList({ parents: [A], minRetryMs: 0 }), RangeError);
});
