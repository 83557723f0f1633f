import assert from "node:assert/strict";
import { formatComputers } from "./computers.ts";
import {
  admin,
  describe,
  makeTestSite,
  openTestStore,
  registerTestComputer,
} from "./_test_utils.ts";

const KID = "0123456789abcdef0123456789abcdef01234567";

Deno.test("formatComputers() says when no computer has registered", () => {
  assert.equal(formatComputers([]), "No computers have registered yet\n");
});

Deno.test("computers list shows registered computers as a table and as JSON", async () => {
  await using site = await makeTestSite();
  using store = openTestStore(site);
  const alpha = await registerTestComputer(store, "alpha", Date.UTC(2024, 0, 2, 3, 4, 5));
  const beta = await registerTestComputer(store, "beta", Date.UTC(2024, 0, 3));
  await registerTestComputer(store, "gamma", Date.UTC(2024, 0, 4));
  const report = (computerId: number, kid: string | null) => ({
    computerId,
    seq: 1,
    receivedAt: Date.UTC(2024, 1, 1),
    encrypted: kid !== null,
    kid,
    body: "{}",
    digest: "d",
    encryptionLevel: kid ? "required" : "none",
  });
  await store.storeReports([report(alpha.id, KID), report(beta.id, null)]);

  const table = await admin(["computers", "list", "--data-dir", site.dataDir]);
  assert.equal(table.code, 0, describe(table));
  assert.equal(table.stderr, "");
  const lines = table.stdout.trimEnd().split("\n");
  assert.match(
    lines[0],
    /^ID\s+HOSTNAME\s+REGISTERED\s+LAST REPORT\s+LAST KEY\s+LEVEL\s+REVOKED/,
  );
  assert.equal(lines.length, 4);
  assert.match(
    lines[1],
    /^1\s+alpha\s+2024-01-02T03:04:05Z\s+2024-02-01T00:00:00Z\s+0123456789ab\s+required\s/,
  );
  assert.match(lines[2], /^2\s+beta\s+\S+\s+\S+\s+clear\s+none\s/);
  assert.match(lines[3], /^3\s+gamma\s+\S+\s+-\s+-\s+-\s/);

  const json = await admin(["computers", "list", "--json"], { MLE_DATA_DIR: site.dataDir });
  assert.equal(json.code, 0, describe(json));
  const computers = JSON.parse(json.stdout);
  assert.equal(computers.length, 3);
  assert.equal(computers[0].hostname, "alpha");
  assert.equal(computers[0].lastKid, KID);
  assert.equal(computers[1].lastKid, null);
  assert.equal(computers[2].lastReportAt, null);
});

Deno.test("computers misuse exits 2", async () => {
  await using site = await makeTestSite();
  for (
    const [args, message] of [
      [["computers"], /Missing computers command/],
      [["computers", "remove"], /Unknown computers command "remove"/],
      [["computers", "list", "--everything"], /Unknown option "--everything"/],
      [["computers", "revoke"], /Missing computer id/],
      [["computers", "revoke", "abc"], /computer id/i],
      [
        ["computers", "remove-duplicates", "--min-idle", "week"],
        /Cannot use --min-idle "week": expected whole days/,
      ],
      [["computers", "duplicates", "--force"], /Unknown option "--force"/],
    ] as [string[], RegExp][]
  ) {
    const result = await admin([...args, "--data-dir", site.dataDir]);
    assert.equal(result.code, 2, describe(result));
    assert.match(result.stderr, message);
  }
});
