import assert from "node:assert/strict";
import { joinPath } from "../keystore/secure_file.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { admin, describe, makeTestRoot, makeTestSite, siteKeyArgs } from "./_test_utils.ts";

Deno.test("masthead add-server re-signs the masthead with the same site key and one more server", async () => {
  await using site = await makeTestSite();
  const before = JSON.parse(await Deno.readTextFile(joinPath(site.dataDir, "masthead.json")));
  const out = joinPath(site.root, "masthead-2.json");
  const added = await admin([
    "masthead",
    "add-server",
    "http://127.0.0.1:52312/",
    ...siteKeyArgs(site),
    "--out",
    out,
    "--data-dir",
    site.dataDir,
  ]);
  assert.equal(added.code, 0, describe(added));
  const old = await verifyMasthead(before);
  for (const path of [out, joinPath(site.dataDir, "masthead.json")]) {
    const text = await Deno.readTextFile(path);
    // Pinned to the installed one's site key: what a client checks before accepting it.
    const { masthead } = await verifyMasthead(JSON.parse(text), old.masthead.sitePublicKey);
    assert.deepEqual(masthead.serverUrls, ["http://127.0.0.1:52311", "http://127.0.0.1:52312"]);
    assert.equal(masthead.siteName, "test site");
  }
  const shown = await admin(["masthead", "show", "--json", "--data-dir", site.dataDir]);
  assert.equal(shown.code, 0, describe(shown));
  assert.deepEqual(JSON.parse(shown.stdout).serverUrls, [
    "http://127.0.0.1:52311",
    "http://127.0.0.1:52312",
  ]);

  const again = await admin([
    "masthead",
    "add-server",
    "http://127.0.0.1:52312",
    "--data-dir",
    site.dataDir,
  ]);
  assert.equal(again.code, 0, describe(again));
  assert.match(again.stdout, /already lists/);
});

Deno.test("masthead add-server refuses the key of another site and a bad URL, changing nothing", async () => {
  await using site = await makeTestSite();
  await using other = await makeTestSite();
  const masthead = await Deno.readTextFile(joinPath(site.dataDir, "masthead.json"));
  const foreign = await admin([
    "masthead",
    "add-server",
    "http://127.0.0.1:52313",
    ...siteKeyArgs(other),
    "--data-dir",
    site.dataDir,
  ]);
  assert.equal(foreign.code, 1, describe(foreign));
  assert.match(foreign.stderr, /not the key of site "test site"/);
  const bad = await admin([
    "masthead",
    "add-server",
    "server2:52311",
    "--data-dir",
    site.dataDir,
  ]);
  assert.equal(bad.code, 2, describe(bad));
  assert.equal(await Deno.readTextFile(joinPath(site.dataDir, "masthead.json")), masthead);
  await using empty = await makeTestRoot();
  const none = await admin(["masthead", "show", "--data-dir", empty.dataDir]);
  assert.equal(none.code, 1, describe(none));
});
