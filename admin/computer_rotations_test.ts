import assert from "node:assert/strict";
import type { ComputerRecord } from "../store/mod.ts";
import { computerRecord } from "../store/_test_computer_record.ts";
import {
  admin,
  describe,
  makeTestSite,
  openTestStore,
  registerTestComputer,
  signingArgs,
} from "./_test_utils.ts";
import {
  describeRotation,
  indexComputers,
  KEEP_DONE_REQUESTS_DAYS,
  nextRequests,
  parseWhere,
  reportMatches,
  rotationStatus,
} from "./computer_rotations.ts";

const DAY = 24 * 60 * 60 * 1000;
const NOW = 1_800_000_000_000;

function computer(id: number, fields: Partial<ComputerRecord> = {}): ComputerRecord {
  return computerRecord(id, { registeredAt: NOW - 100 * DAY, ...fields });
}

const request = (computerId: number, requestedIn: number, requestedAt = NOW - DAY) => ({
  computerId,
  requestedIn,
  requestedAt,
  compromised: false,
});

Deno.test("rotationStatus(): requested, done by hand-over, done by a claim awaiting confirm, ended by revocation", () => {
  const index = indexComputers([
    computer(1),
    computer(2, { replacedBy: 5 }),
    computer(3),
    computer(4, { revokedAt: NOW }),
    computer(5, { registeredAt: NOW }),
    computer(6, { registeredAt: NOW, claimsToReplace: 3, flagged: "confirm" }),
  ]);
  assert.equal(rotationStatus(request(1, 1), index).state, "requested");
  const handedOver = rotationStatus(request(2, 1), index);
  assert.deepEqual([handedOver.state, handedOver.newComputerId], ["done", 5]);
  assert.equal(describeRotation(handedOver), "done → 5");
  const claimed = rotationStatus({ ...request(3, 1), compromised: true }, index);
  assert.deepEqual([claimed.state, claimed.newComputerId, claimed.awaitingConfirm], [
    "done",
    6,
    true,
  ]);
  assert.equal(describeRotation(claimed), "done → 6 (confirm)");
  assert.equal(rotationStatus(request(4, 1), index).state, "ended");
  // A claim made before the request does not count as carrying it out.
  assert.equal(rotationStatus(request(3, 1, NOW + 1), index).state, "requested");
});

Deno.test("nextRequests() keeps outstanding and recently done requests, drops long-done ones, and a new ask replaces an old one", () => {
  const index = indexComputers([
    computer(1),
    computer(2, { replacedBy: 5 }),
    computer(3, { replacedBy: 6 }),
    computer(5, { registeredAt: NOW - DAY }),
    computer(6, { registeredAt: NOW - (KEEP_DONE_REQUESTS_DAYS + 1) * DAY }),
    computer(7),
  ]);
  const next = nextRequests(
    [request(1, 1), request(2, 1), request(3, 1), request(7, 1)],
    [7],
    { serial: 2, now: NOW, compromised: true },
    index,
  );
  assert.deepEqual(next.map((r) => [r.computerId, r.requestedIn, r.compromised]), [
    [1, 1, false],
    [2, 1, false],
    [7, 2, true],
  ]);
});

Deno.test("reportMatches() compares properties and custom properties exactly, all of them", () => {
  const body = JSON.stringify({
    properties: { os_name: "Linux", cpu_count: 4 },
    custom: { Team: "blue" },
  });
  assert.equal(reportMatches(body, parseWhere(["os_name=Linux"])), true);
  assert.equal(reportMatches(body, parseWhere(["cpu_count=4", "Team=blue"])), true);
  assert.equal(reportMatches(body, parseWhere(["Team=Blue"])), false);
  assert.equal(reportMatches(body, parseWhere(["os_name=Linux", "Team=red"])), false);
  assert.equal(reportMatches(body, parseWhere(["constructor=x"])), false);
  assert.equal(reportMatches("not json", parseWhere(["a=b"])), false);
  assert.throws(() => parseWhere(["=x"]), /expected NAME=VALUE/);
});

Deno.test("computers rotate-keys refuses misuse (exit 2) and computers it cannot rotate (exit 1), signing nothing; --all leaves relays out; a second directive keeps the first's requests", async () => {
  await using site = await makeTestSite();
  using store = openTestStore(site);
  for (const name of ["alpha", "beta", "gamma"]) {
    await registerTestComputer(store, name, NOW);
  }
  await store.revokeComputer(3, NOW);
  await registerTestComputer(store, "relay", NOW);
  await store.setBundleSender(4, true, NOW);
  const rotate = (args: string[]) =>
    admin(
      [
        "computers",
        "rotate-keys",
        ...args,
        ...signingArgs(site),
      ],
    );
  for (const misuse of [[], ["1", "--all"], ["--where", "nothing"], ["x"]]) {
    const refused = await rotate(misuse);
    assert.equal(refused.code, 2, describe(refused));
  }
  const revoked = await rotate(["3"]);
  assert.equal(revoked.code, 1, describe(revoked));
  assert.match(revoked.stderr, /Cannot rotate the keys of computer 3: it is revoked/);
  const unknown = await rotate(["99"]);
  assert.match(unknown.stderr, /computer 99: no such computer/);
  const noMatch = await rotate(["--where", "Team=blue"]);
  assert.equal(noMatch.code, 1, describe(noMatch));
  assert.match(noMatch.stderr, /no active computer's last report has Team=blue/);
  const listed = () => admin(["computers", "rotations", "--json", "--data-dir", site.dataDir]);
  assert.deepEqual(JSON.parse((await listed()).stdout), [], "nothing was signed");

  assert.equal((await rotate(["1"])).code, 0);
  const second = await rotate(["--all", "--compromised"]);
  assert.match(second.stdout, /directive #2 for 2 computers \(1, 2\)/);
  const outstanding = JSON.parse((await listed()).stdout) as Array<
    { computerId: number; requestedIn: number; compromised: boolean }
  >;
  assert.deepEqual(outstanding.map((r) => [r.computerId, r.requestedIn, r.compromised]), [
    [1, 2, true],
    [2, 2, true],
  ]);
  const table = await admin(["computers", "list", "--data-dir", site.dataDir]);
  assert.match(table.stdout, /ROTATION/);
  assert.match(table.stdout, /alpha .* requested/);
});
