import assert from "node:assert/strict";
import type { RotationDirective } from "../protocol/rotation_directive.ts";
import { rotationDueFrom } from "./rotation_directive_check.ts";

function directive(serial: number, requests: Array<[number, number]>): RotationDirective {
  return {
    serial,
    issuedAt: serial,
    requests: requests.map(([computerId, requestedIn]) => ({
      computerId,
      requestedIn,
      requestedAt: requestedIn,
      compromised: false,
    })),
  };
}

const fresh = { rotationDirectiveVersion: null, rotationStarted: null };

Deno.test("rotationDueFrom() asks a rotation only of a computer the directive names", () => {
  const named = directive(3, [[7, 3]]);
  assert.deepEqual(rotationDueFrom(named, 7, fresh), {
    computerId: 7,
    requestedIn: 3,
    compromised: false,
  });
  assert.equal(rotationDueFrom(named, 8, fresh), null);
});

Deno.test("rotationDueFrom() never asks again what was started, after a restart or a resend", () => {
  const started = { computerId: 7, requestedIn: 3, compromised: false, at: "" };
  const held = { rotationDirectiveVersion: { serial: 3, issuedAt: 3 }, rotationStarted: started };
  assert.equal(rotationDueFrom(directive(3, [[7, 3]]), 7, held), null, "a resend");
  assert.equal(rotationDueFrom(directive(4, [[7, 3], [8, 4]]), 7, held), null, "carried on");
  // Asked again (a later request for the same id): done again.
  assert.equal(rotationDueFrom(directive(5, [[7, 5]]), 7, held)?.requestedIn, 5);
});

Deno.test("rotationDueFrom() ignores a directive older than one seen (a replay)", () => {
  const held = { rotationDirectiveVersion: { serial: 5, issuedAt: 5 }, rotationStarted: null };
  assert.equal(rotationDueFrom(directive(4, [[7, 4]]), 7, held), null);
  assert.equal(rotationDueFrom(directive(5, [[7, 4]]), 7, held)?.requestedIn, 4);
});
