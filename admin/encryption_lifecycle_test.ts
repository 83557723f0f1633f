import assert from "node:assert/strict";
import { ENCRYPTION_LEVEL_SETTING as LEVEL } from "../protocol/encryption_level.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { verifyRevocations } from "../protocol/revocations.ts";
import { findKeyByPrefix, parseWindowDays } from "./encryption_lifecycle.ts";
import {
  admin,
  describe,
  generateTestKey,
  makeTestSite,
  openTestStore,
  registerTestComputer,
  settingsSet,
  signingArgs,
  statusJson,
  type TestSite,
} from "./_test_utils.ts";

/** The revocation list the server would serve, verified with the site's key. */
async function publishedRevocations(site: TestSite) {
  using store = openTestStore(site);
  const document = await store.getDocument("revocations");
  assert.ok(document, "no revocation list was published");
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)));
  return await verifyRevocations(siteKey, JSON.parse(document));
}

/** Registers a computer and stores one report from it, as the server would. */
async function reported(
  site: TestSite,
  name: string,
  kid: string | null,
  level: string,
  receivedAt = Date.now(),
): Promise<number> {
  using store = openTestStore(site);
  const computer = await store.registerComputer({
    publicKey: `${name}-key`,
    hostIdentity: `instance:${name}`,
    hostname: name,
    registeredAt: receivedAt,
  });
  await store.storeReports([{
    computerId: computer.id,
    seq: 1,
    receivedAt,
    encrypted: kid !== null,
    kid,
    body: "{}",
    digest: "d",
    encryptionLevel: level,
  }]);
  return computer.id;
}

Deno.test("findKeyByPrefix() and parseWindowDays() refuse what they cannot use", () => {
  const keys = [{
    kid: "abcdef".padEnd(40, "0"),
    spki: "",
    bits: 2048,
    role: "previous" as const,
    createdAt: 0,
    deployedAt: null,
    retiredAt: null,
  }];
  assert.equal(findKeyByPrefix(keys, "ABCDEF", "retire").role, "previous");
  assert.throws(() => findKeyByPrefix(keys, "abc", "retire"), /expected 40 hexadecimal/);
  assert.throws(() => findKeyByPrefix(keys, "fedcba", "retire"), /Cannot retire key fedcba/);
  assert.equal(parseWindowDays(undefined), 7);
  assert.equal(parseWindowDays("0"), 0);
  assert.throws(() => parseWindowDays("-1"), /whole days/);
  assert.throws(() => parseWindowDays("9999"), /whole days/);
});

Deno.test("encryption retire refuses the current key and a key used within the window, unless forced", async () => {
  await using site = await makeTestSite();
  const kid1 = await generateTestKey(site, true);
  const recent = await reported(site, "recent", kid1, "required");
  const kid2 = await generateTestKey(site, true);
  const current = await admin(["encryption", "retire", kid2, ...signingArgs(site)]);
  assert.equal(current.code, 1, describe(current));
  assert.match(current.stderr, /it is the current key/);

  const refused = await admin(["encryption", "retire", kid1, ...signingArgs(site)]);
  assert.equal(refused.code, 1, describe(refused));
  assert.match(refused.stderr, /1 computer\(s\) used it within the last 7 day\(s\)/);
  assert.match(refused.stderr, new RegExp(`computer ${recent}: 1 report\\(s\\)`));
  const wrong = await admin([
    "encryption",
    "retire",
    kid1,
    "--window",
    "0",
    ...signingArgs(site, site.wrongPasswordFile),
  ]);
  assert.equal(wrong.code, 1, describe(wrong));
  assert.match(wrong.stderr, /wrong password/);
  assert.equal((await statusJson(site)).keys.find((k) => k.kid === kid1)?.role, "previous");

  // Outside a zero-day window the old report no longer counts.
  const windowed = await admin([
    "encryption",
    "retire",
    kid1,
    "--window",
    "0",
    ...signingArgs(site),
  ]);
  assert.equal(windowed.code, 0, describe(windowed));
  assert.match(windowed.stdout, /Retired key/);
  assert.equal((await statusJson(site)).keys.find((k) => k.kid === kid1)?.role, "retired");
  // The signed revocation list names the retired key, for decrypting relays.
  const published = await publishedRevocations(site);
  assert.deepEqual(published.retiredKeys, [kid1]);
  const again = await admin(["encryption", "retire", kid1, ...signingArgs(site)]);
  assert.equal(again.code, 0, describe(again));
  assert.match(again.stdout, /already retired/);
  const republished = await publishedRevocations(site);
  assert.deepEqual(republished.retiredKeys, [kid1]);
  assert.ok(republished.issuedAt >= published.issuedAt);
  const deploy = await admin(["encryption", "deploy", "--kid", kid1, ...signingArgs(site)]);
  assert.equal(deploy.code, 1, describe(deploy));
  assert.match(deploy.stderr, /it is retired/);
});

Deno.test("encryption retire --force retires a key in use, with a warning naming the computers", async () => {
  await using site = await makeTestSite();
  const kid1 = await generateTestKey(site, true);
  const id = await reported(site, "user", kid1, "optional");
  await generateTestKey(site, true);
  const forced = await admin([
    "encryption",
    "retire",
    kid1.slice(0, 10),
    "--force",
    ...signingArgs(site),
  ]);
  assert.equal(forced.code, 0, describe(forced));
  assert.match(
    forced.stderr,
    new RegExp(`warning: retired although 1 computer\\(s\\)[^]*computer ${id}`),
  );
});

/**
 * Runs `encryption disable` and asserts that it refuses for `count` computers that require
 * encryption; returns its stderr, which lists them.
 */
async function refusedDisable(site: TestSite, count: number): Promise<string> {
  const refused = await admin(["encryption", "disable", ...signingArgs(site)]);
  assert.equal(refused.code, 1, describe(refused));
  assert.match(
    refused.stderr,
    new RegExp(`${count} computer\\(s\\) require it and would be orphaned`),
  );
  return refused.stderr;
}

Deno.test("encryption disable lists the computers that require encryption, then --force orphans them", async () => {
  await using site = await makeTestSite();
  const never = await admin(["encryption", "disable", ...signingArgs(site)]);
  assert.equal(never.code, 0, describe(never));
  assert.match(never.stdout, /not enabled/);

  const kid = await generateTestKey(site, true);
  const required = await reported(site, "required", kid, "required");
  const optional = await reported(site, "optional", kid, "optional");
  // A level deployed centrally counts, whatever the computer last said.
  const deployed = await reported(site, "deployed", null, "none");
  const set = await settingsSet(site, [`${LEVEL}=required`, "--computer", String(deployed)]);
  assert.equal(set.code, 0, describe(set));

  const refused = await refusedDisable(site, 2);
  assert.match(
    refused,
    new RegExp(`computer ${required} \\(required\\): level required \\(as it last reported\\)`),
  );
  assert.match(
    refused,
    new RegExp(`computer ${deployed} \\(deployed\\): level required \\(deployed setting\\)`),
  );
  assert.doesNotMatch(refused, new RegExp(`computer ${optional} `));
  assert.equal((await statusJson(site)).state, "Enabled");

  const forced = await admin(["encryption", "disable", "--force", ...signingArgs(site)]);
  assert.equal(forced.code, 0, describe(forced));
  assert.match(forced.stdout, /Disabled encryption/);
  const status = await statusJson(site) as unknown as {
    state: string;
    orphaned: { id: number }[];
    disabledAt: number;
  };
  assert.equal(status.state, "Disabled");
  assert.deepEqual(status.orphaned.map((o) => o.id).sort(), [required, deployed].sort());
  const again = await admin(["encryption", "disable", ...signingArgs(site)]);
  assert.equal(again.code, 0, describe(again));
  assert.match(again.stdout, /already disabled/);

  // Enabling again (deploying the kept key) ends the orphaning.
  const back = await admin(["encryption", "deploy", "--kid", kid, ...signingArgs(site)]);
  assert.equal(back.code, 0, describe(back));
  const enabled = await statusJson(site) as unknown as { orphaned: unknown[] };
  assert.deepEqual(enabled.orphaned, []);
});

Deno.test("relays allow, list and disallow a computer, with the site key", async () => {
  await using site = await makeTestSite();
  const missing = await admin(["relays", "allow", "5", ...signingArgs(site)]);
  assert.equal(missing.code, 1, describe(missing));
  assert.match(missing.stderr, /no such computer/);
  const id = await reported(site, "relay", null, "none");
  const wrong = await admin([
    "relays",
    "allow",
    String(id),
    ...signingArgs(site, site.wrongPasswordFile),
  ]);
  assert.equal(wrong.code, 1, describe(wrong));
  const allowed = await admin(["relays", "allow", String(id), ...signingArgs(site)]);
  assert.equal(allowed.code, 0, describe(allowed));
  const listed = await admin(["relays", "list", "--json", "--data-dir", site.dataDir]);
  assert.deepEqual(JSON.parse(listed.stdout).map((r: { computerId: number }) => r.computerId), [
    id,
  ]);
  const disallowed = await admin(["relays", "disallow", String(id), ...signingArgs(site)]);
  assert.equal(disallowed.code, 0, describe(disallowed));
  const empty = await admin(["relays", "list", "--data-dir", site.dataDir]);
  assert.match(empty.stdout, /No relay is allowed/);
  const misuse = await admin(["relays", "allow", "abc", ...signingArgs(site)]);
  assert.equal(misuse.code, 2, describe(misuse));
});

Deno.test("encryption disable counts computers whose deployed level is required before they ever reported it, and not once the setting is removed", async () => {
  await using site = await makeTestSite();
  await generateTestKey(site, true);
  using store = openTestStore(site);
  const silent = await registerTestComputer(store, "silent");
  const set = await settingsSet(site, [`${LEVEL}=required`, "--all"]);
  assert.equal(set.code, 0, describe(set));

  const refused = await refusedDisable(site, 1);
  assert.match(
    refused,
    new RegExp(
      `computer ${silent.id} \\(silent\\): level required \\(deployed setting\\), last report never`,
    ),
  );

  const unset = await admin(["settings", "unset", LEVEL, "--all", ...signingArgs(site)]);
  assert.equal(unset.code, 0, describe(unset));
  const disabled = await admin(["encryption", "disable", ...signingArgs(site)]);
  assert.equal(disabled.code, 0, describe(disabled));
  assert.match(disabled.stdout, /Disabled encryption/);
});
