import assert from "node:assert/strict";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import {
  admin,
  describe,
  initSiteArgs,
  makeTestRoot,
  makeTestSite,
  openTestStore,
  TEST_PASSWORD,
} from "./_test_utils.ts";

const IS_WINDOWS = Deno.build.os === "windows";

Deno.test("init-site creates the site key, the masthead and the server data dir", async () => {
  await using site = await makeTestRoot();
  const result = await admin([
    "init-site",
    "--site-key",
    site.siteKey,
    "--masthead",
    site.masthead,
    "--server-url",
    "http://server.example:52311",
    "--server-url",
    "https://backup.example:52311",
    "--password-file",
    site.passwordFile,
    "--data-dir",
    site.dataDir,
  ]);
  assert.equal(result.code, 0, describe(result));
  assert.equal(result.stderr, "");

  // license.pvk: mode 0600, one JSON line sealed with PBKDF2 of at least 600,000 iterations.
  const keyText = await Deno.readTextFile(site.siteKey);
  if (!IS_WINDOWS) assert.equal((await Deno.stat(site.siteKey)).mode! & 0o777, 0o600);
  const sealed = JSON.parse(keyText.split("\n").find((line) => line.startsWith("{"))!);
  assert.equal(sealed.kdf.name, "PBKDF2");
  assert.ok(sealed.kdf.iterations >= 600_000, `iterations ${sealed.kdf.iterations}`);
  assert.ok(!keyText.includes(TEST_PASSWORD));

  // The masthead verifies, names the servers, and carries the key the output printed.
  const mastheadText = await Deno.readTextFile(site.masthead);
  const { masthead } = await verifyMasthead(JSON.parse(mastheadText));
  assert.deepEqual(masthead.serverUrls, [
    "http://server.example:52311",
    "https://backup.example:52311",
  ]);
  assert.equal(masthead.siteName, "server.example");
  assert.equal(masthead.port, 52311);
  assert.equal(masthead.sitePublicKey, sealed.publicData);
  assert.match(result.stdout, new RegExp(masthead.sitePublicKey));
  assert.match(result.stdout, new RegExp(site.siteKey));
  assert.ok(!result.stdout.includes(TEST_PASSWORD));

  // The data dir: 0700, its Encryption Keys folder, the masthead file and the stored document.
  if (!IS_WINDOWS) {
    assert.equal((await Deno.stat(site.dataDir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(encryptionKeysDir(site.dataDir))).mode! & 0o777, 0o700);
  }
  assert.equal(await Deno.readTextFile(joinPath(site.dataDir, "masthead.json")), mastheadText);
  using store = openTestStore(site);
  assert.equal(await store.getDocument("masthead"), mastheadText.trim());
});

Deno.test("init-site refuses a data dir that already serves a site", async () => {
  await using site = await makeTestSite();
  const otherKey = joinPath(site.root, "other", "license.pvk");
  const result = await admin([
    "init-site",
    "--data-dir",
    site.dataDir,
    "--site-key",
    otherKey,
    "--masthead",
    joinPath(site.root, "other", "masthead.json"),
    "--server-url",
    "http://127.0.0.1:52311",
    "--password-file",
    site.passwordFile,
  ]);
  assert.equal(result.code, 1, describe(result));
  assert.match(
    result.stderr,
    /^mle-admin: error: Cannot create a site in .*already serves site "test site"/m,
  );
  assert.match(result.stderr, /^mle-admin: hint: /m);
  assert.equal(result.stdout, "");
  await assert.rejects(Deno.stat(otherKey), Deno.errors.NotFound);
});

Deno.test("init-site never overwrites an existing site key or masthead", async () => {
  await using site = await makeTestRoot();
  await Deno.mkdir(joinPath(site.root, "site"));
  await Deno.writeTextFile(site.siteKey, "precious\n", { mode: 0o600 });
  const result = await admin([...initSiteArgs(site), "--password-file", site.passwordFile]);
  assert.equal(result.code, 1, describe(result));
  assert.match(result.stderr, /Cannot create the site key .*already exists/);
  assert.equal(await Deno.readTextFile(site.siteKey), "precious\n");
  await assert.rejects(Deno.stat(site.masthead), Deno.errors.NotFound);
  await assert.rejects(Deno.stat(site.dataDir), Deno.errors.NotFound);
});

Deno.test("init-site misuse exits 2 and creates nothing", async () => {
  await using site = await makeTestRoot();
  const base = ["init-site", "--data-dir", site.dataDir, "--site-key", site.siteKey];
  const cases: { args: string[]; env?: Record<string, string>; error: RegExp }[] = [
    {
      args: [...base, "--masthead", site.masthead, "--password-file", site.passwordFile],
      error: /Missing option --server-url/,
    },
    {
      args: [...base, "--server-url", "http://a:1", "--password-file", site.passwordFile],
      error: /Missing option --masthead/,
    },
    {
      args: [
        ...base,
        "--masthead",
        site.masthead,
        "--server-url",
        "ftp://a",
        "--password-file",
        site.passwordFile,
      ],
      error: /Cannot use URL "ftp:\/\/a"/,
    },
    {
      args: [...base, "--masthead", site.masthead, "--server-url", "http://a:1", "--colour"],
      error: /Unknown option "--colour"/,
    },
    {
      // No password source and no terminal to ask on.
      args: [...base, "--masthead", site.masthead, "--server-url", "http://a:1"],
      error: /no terminal to ask on/,
    },
    {
      args: [...base, "--masthead", site.masthead, "--server-url", "http://a:1"],
      env: { MLE_SITE_PASSWORD: "short" },
      error: /fewer than 8 characters/,
    },
  ];
  for (const { args, env, error } of cases) {
    const result = await admin(args, env);
    assert.equal(result.code, 2, `${args.join(" ")}\n${describe(result)}`);
    assert.match(result.stderr, error);
    assert.equal(result.stdout, "");
    await assert.rejects(Deno.stat(site.siteKey), Deno.errors.NotFound);
    await assert.rejects(Deno.stat(site.dataDir), Deno.errors.NotFound);
  }
});
