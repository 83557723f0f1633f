import assert from "node:assert/strict";
import { ENCRYPTION_LEVEL_SETTING as LEVEL } from "../protocol/encryption_level.ts";
import { ALLOW_LEGACY_RELAYS_SETTING as LEGACY } from "../protocol/settings.ts";
import { SettingForEveryComputer } from "../store/settings_in_force.ts";
import {
  admin,
  describe,
  makeTestSite,
  openTestStore,
  registerSiteComputer,
  signingArgs,
  type TestSite,
} from "./_test_utils.ts";

async function listJson(site: TestSite, extra: string[] = []) {
  const result = await admin(["settings", "list", "--json", "--data-dir", site.dataDir, ...extra]);
  assert.equal(result.code, 0, describe(result));
  return JSON.parse(result.stdout);
}

Deno.test("settings list shows the values in force site-wide and per computer, with the document, time and signer; unset removes them", async () => {
  await using site = await makeTestSite();
  const env = { USER: "ops-alice" };
  const a = (await registerSiteComputer(site, "alpha")).id;
  const b = (await registerSiteComputer(site, "beta")).id;
  const none = await admin(["settings", "list", "--data-dir", site.dataDir]);
  assert.equal(none.code, 0, describe(none));
  assert.equal(none.stdout, "No settings are deployed\n");

  const run = async (args: string[]) => {
    const result = await admin(["settings", ...args, ...signingArgs(site)], env);
    assert.equal(result.code, 0, describe(result));
    return result;
  };
  await run(["set", `${LEVEL}=optional`, "--all"]);
  await run(["set", `${LEVEL}=required`, `${LEGACY}=1`, "--computer", String(a)]);
  // Newest wins per setting: a later site-wide value overrides computer a's legacy setting.
  await run(["set", `${LEGACY}=0`, "--all"]);

  const listed = await listJson(site);
  assert.deepEqual(
    listed.siteWide.map((e: Record<string, unknown>) => [e.name, e.value, e.target, e.issuedBy]),
    [[LEVEL, "optional", "all", "ops-alice"], [LEGACY, "0", "all", "ops-alice"]],
  );
  assert.deepEqual(listed.computers.map((c: { computerId: number }) => c.computerId), [a]);
  assert.deepEqual(
    listed.computers[0].settings.map((e: Record<string, unknown>) => [e.name, e.value, e.target]),
    [[LEVEL, "required", a]],
  );
  assert.match(String(listed.computers[0].settings[0].serial), /^\d+$/);
  const forA = await listJson(site, ["--computer", String(a)]);
  assert.deepEqual(
    forA.settings.map((e: Record<string, unknown>) => [e.name, e.value, e.target]),
    [[LEVEL, "required", a], [LEGACY, "0", "all"]],
  );
  const table = await admin(["settings", "list", "--data-dir", site.dataDir]);
  assert.match(table.stdout, /^Site-wide \(all computers\):$/m);
  assert.match(
    table.stdout,
    new RegExp(`^${LEVEL} +optional +all computers +#1 .* ops-alice$`, "m"),
  );
  assert.match(
    table.stdout,
    new RegExp(`^Computer ${a} \\(its own, over the site-wide ones\\):$`, "m"),
  );

  // Unset for computer a: it drops its own value and does not fall back to the older site-wide one.
  const unset = await run(["unset", LEVEL, "--computer", String(a)]);
  assert.match(unset.stdout, /^Stored signed removal #\d+ for computer \d+: they drop/m);
  assert.match(
    unset.stderr,
    new RegExp(
      `site-wide value ${LEVEL}=optional is older.*settings set ${LEVEL}=optional --computer ${a}`,
    ),
  );
  const afterA = await listJson(site, ["--computer", String(a)]);
  assert.deepEqual(
    afterA.settings.map((e: Record<string, unknown>) => [e.name, e.value, e.target]),
    [[LEVEL, null, a], [LEGACY, "0", "all"]],
  );
  using store = openTestStore(site);
  // The merge the server uses for its clear-text policy says the same.
  const levels = new SettingForEveryComputer(LEVEL, await store.listSettings());
  assert.equal(levels.valueFor(a), null);
  assert.equal(levels.valueFor(b), "optional");
  const tableA = await admin([
    "settings",
    "list",
    "--computer",
    String(a),
    "--data-dir",
    site.dataDir,
  ]);
  assert.match(tableA.stdout, new RegExp(`^${LEVEL} +\\(removed\\) +computer ${a} `, "m"));

  // Unset --all: every computer drops it.
  await run(["unset", LEGACY, LEVEL, "--all"]);
  const forB = await listJson(site, ["--computer", String(b)]);
  assert.deepEqual(forB.settings.map((e: Record<string, unknown>) => e.value), [null, null]);
});

Deno.test("settings unset and list refuse misuse and unknown computers", async () => {
  await using site = await makeTestSite();
  const cases: [string[], number, RegExp][] = [
    [["unset", "--all"], 2, /Missing settings: expected the NAME/],
    [["unset", "bad-name", "--all"], 2, /Cannot unset "bad-name"/],
    [["unset", LEVEL], 2, /Missing target/],
    [["unset", LEVEL, "--computer", "99"], 1, /Cannot target computer 99: no such computer/],
    [
      ["list", "--computer", "99"],
      1,
      /Cannot list the settings of computer 99: no such computer/,
    ],
    [["list", "--computer", "x"], 2, /Cannot use computer id "x"/],
    [["frobnicate"], 2, /expected set, unset or list/],
  ];
  for (const [args, code, message] of cases) {
    const extra = args[0] === "list" ? ["--data-dir", site.dataDir] : signingArgs(site);
    const result = await admin(["settings", ...args, ...extra]);
    assert.equal(result.code, code, `${args.join(" ")}: ${describe(result)}`);
    assert.match(result.stderr, message, args.join(" "));
  }
  using store = openTestStore(site);
  assert.deepEqual(await store.listSettings(), []);
});
