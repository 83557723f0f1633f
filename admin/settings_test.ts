import assert from "node:assert/strict";
import { UsageError } from "../cli/output.ts";
import { verifyDocument } from "../envelope/signed_document.ts";
import { ENCRYPTION_LEVEL_SETTING as LEVEL } from "../protocol/encryption_level.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { verifySettings } from "../protocol/settings.ts";
import { parseSettingPairs } from "./settings.ts";
import {
  admin,
  describe,
  makeTestSite,
  openTestStore,
  registerSiteComputer,
  settingsSet,
  signingArgs,
  siteKeyArgs,
  type TestSite,
} from "./_test_utils.ts";

Deno.test("parseSettingPairs() checks names and values and normalizes the level", () => {
  assert.deepEqual(parseSettingPairs([`${LEVEL}=REQUIRED`, "_BESClient_Other=a=b"]), {
    [LEVEL]: "required",
    _BESClient_Other: "a=b",
  });
  for (
    const [pairs, message] of [
      [[`${LEVEL}=sometimes`], /expected required, optional or none/],
      [["=x"], /expected NAME=VALUE/],
      [["novalue"], /expected NAME=VALUE/],
      [["bad name=1"], /letters, digits and underscores/],
      [[`${LEVEL}=none`, `${LEVEL}=required`], /twice/],
      [[], /Missing settings/],
    ] as [string[], RegExp][]
  ) {
    assert.throws(() => parseSettingPairs(pairs), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, message);
      return true;
    });
  }
});

async function siteKeyOf(site: TestSite): Promise<CryptoKey> {
  return (await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)))).siteKey;
}

Deno.test("settings set --all stores a document signed by the site key", async () => {
  await using site = await makeTestSite();
  const result = await settingsSet(site, [`${LEVEL}=Optional`, "--all"]);
  assert.equal(result.code, 0, describe(result));
  assert.match(result.stdout, /Stored signed settings #1 for all computers/);
  using store = openTestStore(site);
  const records = await store.listSettingsFor(42);
  assert.equal(records.length, 1);
  assert.equal(records[0].computerId, null);
  const body = await verifyDocument(
    await siteKeyOf(site),
    "mle-settings",
    JSON.parse(records[0].document),
  );
  assert.equal(body.computers, "all");
  assert.deepEqual(body.settings, { [LEVEL]: "optional" });
  assert.equal(typeof body.issuedAt, "number");
  assert.equal(typeof body.id, "string");
});

Deno.test("settings set --computer targets registered computers only", async () => {
  await using site = await makeTestSite();
  const computer = await registerSiteComputer(site, "alpha");

  const unknown = await settingsSet(site, [`${LEVEL}=required`, "--computer", "999"]);
  assert.equal(unknown.code, 1, describe(unknown));
  assert.match(unknown.stderr, /Cannot target computer 999: no such computer/);

  const result = await admin([
    "--data-dir",
    site.dataDir,
    "settings",
    "set",
    `${LEVEL}=required`,
    "--computer",
    String(computer.id),
    ...siteKeyArgs(site),
  ]);
  assert.equal(result.code, 0, describe(result));
  // Encryption is Disabled: required computers would keep their reports queued; say so.
  assert.match(result.stderr, /^mle-admin: warning: encryption is Disabled on this server/m);
  using store = openTestStore(site);
  const records = await store.listSettingsFor(computer.id);
  assert.equal(records.length, 1);
  assert.equal(records[0].computerId, computer.id);
  const settings = await verifySettings(
    await siteKeyOf(site),
    JSON.parse(records[0].document),
    computer.id,
  );
  assert.deepEqual(settings.computers, [computer.id]);
  assert.deepEqual(settings.settings, { [LEVEL]: "required" });
  assert.deepEqual(await store.listSettingsFor(computer.id + 1), []);
});

Deno.test("settings set misuse exits 2 and stores nothing", async () => {
  await using site = await makeTestSite();
  const cases: [string[], RegExp][] = [
    [["settings", "set", `${LEVEL}=maybe`, "--all"], /Cannot use encryption level "maybe"/],
    [["settings", "set", `${LEVEL}=none`], /Missing target: give --all or --computer ID/],
    [
      ["settings", "set", `${LEVEL}=none`, "--all", "--computer", "1"],
      /Cannot use --all with --computer/,
    ],
    [["settings", "set", `${LEVEL}=none`, "--computer", "one"], /Cannot use computer id "one"/],
    [["settings", "set", "--all"], /Missing settings/],
    [
      ["settings", "forget", "--all"],
      /Unknown settings command "forget": expected set, unset or list/,
    ],
    [["settings"], /Missing settings command/],
  ];
  for (const [args, message] of cases) {
    const result = await admin([...args, ...signingArgs(site)]);
    assert.equal(result.code, 2, `${args.join(" ")}\n${describe(result)}`);
    assert.match(result.stderr, message);
  }
  using store = openTestStore(site);
  assert.deepEqual(await store.listSettingsFor(1), []);
});

Deno.test("settings set with a wrong password stores nothing", async () => {
  await using site = await makeTestSite();
  const result = await settingsSet(site, [`${LEVEL}=optional`, "--all"], site.wrongPasswordFile);
  assert.equal(result.code, 1, describe(result));
  assert.match(result.stderr, /wrong password/);
  using store = openTestStore(site);
  assert.deepEqual(await store.listSettingsFor(1), []);
});
