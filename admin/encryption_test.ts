import assert from "node:assert/strict";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import {
  admin,
  describe,
  foreignSigningArgs,
  generateTestKey,
  listNames,
  makeTestRoot,
  makeTestSite,
  openTestStore,
  siteKeyArgs,
  statusJson,
  type TestSite,
} from "./_test_utils.ts";

async function storedCertificateKid(site: TestSite): Promise<string | null> {
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)));
  using store = openTestStore(site);
  const text = await store.getDocument("encryption-certificate");
  if (text === null) return null;
  const { certificate } = await verifyEncryptionCertificate(siteKey, JSON.parse(text));
  return certificate.enabled ? certificate.kid : null;
}

Deno.test("encryption generate/deploy/status: Disabled → Pending → Enabled → Pending rotation → Enabled", async () => {
  await using site = await makeTestSite();
  const env = { MLE_DATA_DIR: site.dataDir };
  let status = await statusJson(site);
  assert.deepEqual(status, {
    state: "Disabled",
    currentKid: null,
    pendingKid: null,
    keys: [],
    clientsInClear: 0,
    disabledAt: null,
    orphaned: [],
  });
  const human = await admin(["encryption", "status"], env);
  assert.equal(human.code, 0, describe(human));
  assert.match(human.stdout, /^Encryption: Disabled$/m);

  const out = joinPath(site.root, "out");
  const first = await admin(
    ["encryption", "generate", "--key-size", "2048", "--out-key-path", out, ...siteKeyArgs(site)],
    env,
  );
  assert.equal(first.code, 0, describe(first));
  status = await statusJson(site);
  assert.equal(status.state, "Pending");
  const kid1 = status.pendingKid!;
  assert.deepEqual(await listNames(out), [`${kid1}.pvk`]);
  // The only thing on stderr: the copy is the private key in clear; the sealed way is named.
  assert.equal(
    first.stderr,
    `mle-admin: warning: "${joinPath(out, `${kid1}.pvk`)}" is the private key, unencrypted: ` +
      `whoever reads it can decrypt every report sent to key ${kid1}; prefer a copy sealed ` +
      "under a transfer password: mle-admin encryption export --to DIR (and delete this file " +
      "once the key is imported)\n",
  );
  assert.equal(await storedCertificateKid(site), null);

  // A second generate while a key is pending is refused, and writes nothing.
  const refused = await admin(
    ["encryption", "generate", "--key-size", "min", ...siteKeyArgs(site)],
    env,
  );
  assert.equal(refused.code, 1, describe(refused));
  assert.match(
    refused.stderr,
    /^mle-admin: error: Cannot generate a key: key [0-9a-f]{40} is already pending$/m,
  );
  assert.match(refused.stderr, /^mle-admin: hint: deploy it first/m);
  assert.deepEqual(await listNames(encryptionKeysDir(site.dataDir)), [`${kid1}.pvk`]);

  const deploy1 = await admin(["encryption", "deploy", ...siteKeyArgs(site)], env);
  assert.equal(deploy1.code, 0, describe(deploy1));
  status = await statusJson(site);
  assert.equal(status.state, "Enabled");
  assert.equal(status.currentKid, kid1);
  assert.equal(await storedCertificateKid(site), kid1);

  const second = await admin(
    ["encryption", "generate", "--key-size", "min", ...siteKeyArgs(site)],
    env,
  );
  assert.equal(second.code, 0, describe(second));
  status = await statusJson(site);
  assert.equal(status.state, "Pending rotation");
  assert.equal(
    status.currentKid,
    kid1,
    "clients keep using the current key while one is pending",
  );
  const kid2 = status.pendingKid!;
  assert.notEqual(kid2, kid1);
  const rotation = await admin(["encryption", "status"], env);
  assert.match(rotation.stdout, /^Encryption: Pending rotation$/m);
  assert.match(rotation.stdout, new RegExp(`^Clients are told to encrypt to: ${kid1}$`, "m"));

  const deploy2 = await admin(["encryption", "deploy", ...siteKeyArgs(site)], env);
  assert.equal(deploy2.code, 0, describe(deploy2));
  assert.match(deploy2.stdout, new RegExp(`Previous key ${kid1} stays`));
  status = await statusJson(site);
  assert.equal(status.state, "Enabled");
  assert.equal(status.currentKid, kid2);
  assert.deepEqual(
    status.keys.map((k) => [k.kid, k.role, k.privateKeyFile]).sort(),
    [[kid1, "previous", true], [kid2, "current", true]].sort(),
  );
  assert.equal(await storedCertificateKid(site), kid2);

  // Nothing pending: a clear error. An older key can be deployed again by its id (prefix).
  const nothing = await admin(["encryption", "deploy", ...siteKeyArgs(site)], env);
  assert.equal(nothing.code, 1, describe(nothing));
  assert.match(nothing.stderr, /Cannot deploy: no key is pending/);
  const back = await admin([
    "encryption",
    "deploy",
    "--kid",
    kid1.slice(0, 10),
    ...siteKeyArgs(site),
  ], env);
  assert.equal(back.code, 0, describe(back));
  assert.equal((await statusJson(site)).currentKid, kid1);
  assert.equal(await storedCertificateKid(site), kid1);
});

Deno.test("encryption generate --deploy-now goes straight to Enabled", async () => {
  await using site = await makeTestSite();
  const kid = await generateTestKey(site, true);
  const status = await statusJson(site);
  assert.equal(status.state, "Enabled");
  assert.equal(status.currentKid, kid);
  assert.equal(await storedCertificateKid(site), status.currentKid);
});

Deno.test("encryption deploy refuses a key whose private key file is not in this data dir", async () => {
  await using site = await makeTestSite();
  const env = { MLE_DATA_DIR: site.dataDir };
  const pendingKid = await generateTestKey(site, false);
  const keyFile = joinPath(encryptionKeysDir(site.dataDir), `${pendingKid}.pvk`);
  const moved = joinPath(site.root, "moved.pvk");
  await Deno.rename(keyFile, moved);

  const result = await admin(["encryption", "deploy", ...siteKeyArgs(site)], env);
  assert.equal(result.code, 1, describe(result));
  assert.match(result.stderr, /Cannot deploy key [0-9a-f]{40}: its private key file is not in/);
  assert.match(result.stderr, /^mle-admin: hint: copy [0-9a-f]{40}\.pvk/m);
  assert.equal((await statusJson(site)).state, "Pending");

  // Once the file is back (the DSA "Deploy key" step after a USB copy), deploy works.
  await Deno.rename(moved, keyFile);
  const retry = await admin(["encryption", "deploy", ...siteKeyArgs(site)], env);
  assert.equal(retry.code, 0, describe(retry));
  assert.equal((await statusJson(site)).state, "Enabled");
});

Deno.test("encryption refuses the site key of another site", async () => {
  await using site = await makeTestSite();
  await using other = await makeTestSite();
  const result = await admin([
    "encryption",
    "generate",
    "--key-size",
    "min",
    ...foreignSigningArgs(site, other),
  ]);
  assert.equal(result.code, 1, describe(result));
  assert.match(result.stderr, /it is not the key of site "test site" that this data dir serves/);
  assert.deepEqual(await listNames(encryptionKeysDir(site.dataDir)), []);
});

Deno.test("encryption commands refuse a folder that is no server data dir", async () => {
  await using root = await makeTestRoot();
  const result = await admin(["encryption", "status", "--data-dir", joinPath(root.root, "none")]);
  assert.equal(result.code, 1, describe(result));
  assert.match(result.stderr, /^mle-admin: error: Cannot find a server data dir at /m);
  assert.deepEqual(await listNames(root.root), ["password", "wrong-password"]);
});

Deno.test("encryption misuse exits 2", async () => {
  await using site = await makeTestSite();
  const cases: [string[], RegExp][] = [
    [["encryption"], /Missing encryption command/],
    [["encryption", "rotate"], /Unknown encryption command "rotate"/],
    [["encryption", "generate", "--key-size", "1024", ...siteKeyArgs(site)], /key size "1024"/],
    [["encryption", "generate", "--bogus", ...siteKeyArgs(site)], /Unknown option "--bogus"/],
    [["encryption", "generate", "--key-size", "min"], /Missing option --site-key/],
    [["encryption", "deploy", "--kid", "xyz", ...siteKeyArgs(site)], /Cannot use key id "xyz"/],
    [["encryption", "status", "--json=yes"], /takes no value/],
    [["encryption", "status", "extra"], /Unexpected argument "extra"/],
  ];
  for (const [args, message] of cases) {
    const result = await admin([...args, "--data-dir", site.dataDir]);
    assert.equal(result.code, 2, `${args.join(" ")}\n${describe(result)}`);
    assert.match(result.stderr, message);
    assert.equal(result.stdout, "");
  }
  assert.equal((await statusJson(site)).state, "Disabled");
});
