import assert from "node:assert/strict";
import {
  checkClaims,
  claimsInOrder,
  integerUpTo,
  KEY_ID_OR_NULL,
  NON_NEGATIVE_INTEGER,
  POSITIVE_INTEGER,
  textMatching,
} from "./claim_rules.ts";
import { MleError } from "./errors.ts";

const rules = {
  cid: POSITIVE_INTEGER,
  seq: NON_NEGATIVE_INTEGER,
  kid: KEY_ID_OR_NULL,
  n: integerUpTo(3),
  tag: textMatching(/^[a-z]{2}$/, "two lowercase letters"),
};

Deno.test("checkClaims() gives the claims in the rules' order, a missing kid as null, and nothing else of the header", () => {
  const header = { tag: "ab", n: 3, seq: 0, cid: 9, typ: "x", extra: true };
  const claims = checkClaims(rules, header, "note");
  assert.deepEqual(claims, { cid: 9, seq: 0, kid: null, n: 3, tag: "ab" });
  assert.deepEqual(Object.keys(claims), ["cid", "seq", "kid", "n", "tag"]);
  assert.equal(checkClaims(rules, { ...header, kid: "k1" }, "note").kid, "k1");
});

Deno.test("checkClaims() refuses the first bad claim with ERR_ENVELOPE_MALFORMED naming it and its rule", () => {
  const good = { cid: 1, seq: 0, kid: null, n: 1, tag: "ab" };
  const cases: [Record<string, unknown>, string][] = [
    [{ cid: 0 }, "cid must be a positive integer"],
    [{ cid: 1.5 }, "cid must be a positive integer"],
    [{ cid: "1" }, "cid must be a positive integer"],
    [{ cid: 2 ** 53 }, "cid must be a positive integer"],
    [{ seq: -1 }, "seq must be a non-negative integer"],
    [{ seq: undefined }, "seq must be a non-negative integer"],
    [{ kid: 5 }, "kid must be a key id or null"],
    [{ n: 4 }, "n must be an integer from 1 to 3"],
    [{ n: 0 }, "n must be an integer from 1 to 3"],
    [{ tag: "abc" }, "tag must be two lowercase letters"],
    [{ tag: 12 }, "tag must be two lowercase letters"],
    [{ cid: -1, tag: "x" }, "cid must be a positive integer"],
  ];
  for (const [change, detail] of cases) {
    assert.throws(
      () => checkClaims(rules, { ...good, ...change }, "note"),
      (error: unknown) =>
        error instanceof MleError && error.code === "ERR_ENVELOPE_MALFORMED" &&
        error.message === `Cannot read note: ${detail}`,
      JSON.stringify(change),
    );
  }
});

Deno.test("claimsInOrder() lists the claims in the rules' order, with or without kid", () => {
  const claims = { tag: "ab", kid: "k1", n: 2, seq: 4, cid: 9 };
  assert.deepEqual(Object.entries(claimsInOrder(rules, claims, true)), [
    ["cid", 9],
    ["seq", 4],
    ["kid", "k1"],
    ["n", 2],
    ["tag", "ab"],
  ]);
  assert.deepEqual(Object.keys(claimsInOrder(rules, claims, false)), ["cid", "seq", "n", "tag"]);
});
