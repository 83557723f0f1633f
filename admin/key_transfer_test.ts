import assert from "node:assert/strict";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import {
  chooseKeyToExport,
  keyFingerprint,
  readTransferFile,
  TRANSFER_FORMAT,
} from "./key_transfer.ts";
import {
  admin,
  describe,
  generateTestKey,
  keyRecord,
  listNames,
  makeTestSite,
  openTestStore,
  seedGenerateKeyArgs,
  siteKeyArgs,
  statusJson,
  type TestSite,
} from "./_test_utils.ts";

const TRANSFER = "a long transfer password";

/** `encryption import` of the key files in `from` into `dataDir`, with `extra` options. */
function importArgs(from: string, dataDir: string, ...extra: string[]): string[] {
  return ["encryption", "import", "--from", from, "--data-dir", dataDir, ...extra];
}

async function transferFile(site: TestSite, password = TRANSFER): Promise<string> {
  const path = joinPath(site.root, "transfer-password");
  await Deno.writeTextFile(path, password + "\n", { mode: 0o600 });
  return path;
}

Deno.test("keyFingerprint() is SHA-256 of the public key in 16 groups of 4 hex digits", async () => {
  const fingerprint = await keyFingerprint(new Uint8Array([1, 2, 3]));
  assert.match(fingerprint, /^SHA256:([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
  assert.equal(fingerprint.replace(/^SHA256:| /g, "").slice(0, 8), "039058c6");
});

Deno.test("readTransferFile() refuses text that is not a transfer file of this format, before any password", () => {
  const kid = "a".repeat(40);
  const texts = [
    "not json",
    "null",
    JSON.stringify({ format: TRANSFER_FORMAT, kid: "b".repeat(40), sealed: {} }),
    // Once read as a sealed part, and then refused as a wrong password.
    JSON.stringify({ format: TRANSFER_FORMAT, kid, sealed: null }),
  ];
  for (const text of texts) {
    assert.throws(() => readTransferFile(text, kid, "k.mle-key.json"), {
      name: "CliError",
      message: /^Cannot import "k\.mle-key\.json": (it is not JSON|not a key transfer file)/,
    }, text);
  }
});

Deno.test("chooseKeyToExport() takes the named key, else the pending one, else the current one", () => {
  const key = keyRecord;
  assert.equal(
    chooseKeyToExport([key("a", "current"), key("b", "pending")], undefined).role,
    "pending",
  );
  assert.equal(chooseKeyToExport([key("a", "current")], undefined).role, "current");
  assert.throws(
    () => chooseKeyToExport([key("a", "previous")], undefined),
    /no pending or current/,
  );
  assert.throws(() => chooseKeyToExport([key("aaaaaa", "retired")], "aaaaaa"), /retired/);
});

Deno.test("encryption export seals the key; import checks it and installs it on a relay and a DSA server", async () => {
  await using site = await makeTestSite();
  const kid = await generateTestKey(site, true);
  const usb = joinPath(site.root, "usb");
  const password = await transferFile(site);
  const short = await admin([
    "encryption",
    "export",
    "--to",
    usb,
    "--data-dir",
    site.dataDir,
  ], { MLE_TRANSFER_PASSWORD: "short" });
  assert.equal(short.code, 2, describe(short));
  assert.match(short.stderr, /fewer than 10 characters/);
  assert.deepEqual(await listNames(usb), []);

  const exportArgs = [
    "encryption",
    "export",
    "--to",
    usb,
    "--transfer-password-file",
    password,
    "--data-dir",
    site.dataDir,
  ];
  const exported = await admin(exportArgs);
  assert.equal(exported.code, 0, describe(exported));
  assert.deepEqual(await listNames(usb), [`${kid}.mle-key.json`]);
  const fingerprint = /SHA256:[0-9a-f ]{79}/.exec(exported.stdout)![0];
  const file = JSON.parse(await Deno.readTextFile(joinPath(usb, `${kid}.mle-key.json`)));
  assert.equal(file.kid, kid);
  assert.equal(file.role, "current");
  assert.equal(file.fingerprint, fingerprint);
  assert.match(file.publicKey, /^-----BEGIN PUBLIC KEY-----/);
  const sealedData = JSON.parse(file.sealed.publicData);
  assert.equal(typeof sealedData.certificate, "string", "the deployed key's certificate travels");
  assert.equal(typeof sealedData.masthead, "string");

  const again = await admin(exportArgs);
  assert.equal(again.code, 1, describe(again));
  assert.match(again.stderr, /a file already exists there/);

  // A relay data dir: the key file (0600) and the masthead to pin.
  const relayDir = joinPath(site.root, "relay");
  const argv = await admin(importArgs(usb, relayDir, "--transfer-password", TRANSFER));
  assert.equal(argv.code, 0, describe(argv));
  assert.match(argv.stderr, /warning: a password on the command line is visible/);
  assert.match(argv.stdout, new RegExp(fingerprint));
  const keyFile = joinPath(encryptionKeysDir(relayDir), `${kid}.pvk`);
  assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
  assert.deepEqual(await listNames(relayDir), ["Encryption Keys", "masthead.json"]);
  const twice = await admin(importArgs(usb, relayDir), {
    MLE_TRANSFER_PASSWORD: TRANSFER,
  });
  assert.equal(twice.code, 0, describe(twice));
  assert.match(twice.stdout, /was already there/);

  // A DSA server data dir made from the transfer, then deployed there.
  const dsa = joinPath(site.root, "dsa");
  const noServer = await admin(importArgs(usb, dsa, "--deploy"), {
    MLE_TRANSFER_PASSWORD: TRANSFER,
  });
  assert.equal(noServer.code, 2, describe(noServer));
  const dsaImport = await admin(
    importArgs(usb, dsa, "--server", "--deploy", ...siteKeyArgs(site)),
    { MLE_TRANSFER_PASSWORD: TRANSFER },
  );
  assert.equal(dsaImport.code, 0, describe(dsaImport));
  assert.match(dsaImport.stdout, /Deployed encryption key/);
  const status = await statusJson({ ...site, dataDir: dsa });
  assert.equal(status.currentKid, kid);
});

Deno.test("encryption import refuses a wrong password, a renamed file and another site's data dir", async () => {
  await using site = await makeTestSite();
  await using other = await makeTestSite();
  const kid = await generateTestKey(site, false);
  const usb = joinPath(site.root, "usb");
  const exported = await admin(
    ["encryption", "export", "--to", usb, "--data-dir", site.dataDir],
    {
      MLE_TRANSFER_PASSWORD: TRANSFER,
    },
  );
  assert.equal(exported.code, 0, describe(exported));
  const target = joinPath(site.root, "relay");

  const wrong = await admin(importArgs(usb, target), {
    MLE_TRANSFER_PASSWORD: "not the password at all",
  });
  assert.equal(wrong.code, 1, describe(wrong));
  assert.match(wrong.stderr, /wrong transfer password, or the file was altered/);
  assert.deepEqual(await listNames(target), []);

  const renamedDir = joinPath(site.root, "renamed");
  await Deno.mkdir(renamedDir);
  const fake = "0".repeat(40);
  const text = (await Deno.readTextFile(joinPath(usb, `${kid}.mle-key.json`)))
    .replaceAll(kid, fake);
  await Deno.writeTextFile(joinPath(renamedDir, `${fake}.mle-key.json`), text);
  const renamed = await admin(importArgs(renamedDir, target), {
    MLE_TRANSFER_PASSWORD: TRANSFER,
  });
  assert.equal(renamed.code, 1, describe(renamed));
  assert.match(renamed.stderr, /altered/);
  assert.deepEqual(await listNames(target), []);

  const foreign = await admin(importArgs(usb, other.dataDir), {
    MLE_TRANSFER_PASSWORD: TRANSFER,
  });
  assert.equal(foreign.code, 1, describe(foreign));
  assert.match(foreign.stderr, /the key belongs to site/);
  assert.deepEqual(await listNames(encryptionKeysDir(other.dataDir)), []);

  const missing = await admin(["encryption", "import", "--from", usb]);
  assert.equal(missing.code, 2, describe(missing));
  assert.match(missing.stderr, /Missing option --data-dir/);
});

Deno.test("encryption import takes the seed's plain <key id>.pvk and records it in a server's store", async () => {
  await using site = await makeTestSite();
  const usb = joinPath(site.root, "usb");
  const result = await admin([
    ...seedGenerateKeyArgs(site, false, usb),
    `-password-file=${site.passwordFile}`,
    "--data-dir",
    site.dataDir,
  ]);
  assert.equal(result.code, 0, describe(result));
  const kid = /[0-9a-f]{40}/.exec(result.stdout)![0];
  const target = joinPath(site.root, "second");
  // A folder that is no server's and has no masthead: the key alone, with a warning.
  const plain = await admin(importArgs(usb, target));
  assert.equal(plain.code, 0, describe(plain));
  assert.match(plain.stderr, /no masthead came with the key/);
  assert.deepEqual(await listNames(encryptionKeysDir(target)), [`${kid}.pvk`]);

  // Into the site's own data dir (where it already is): nothing changes.
  const same = await admin(importArgs(usb, site.dataDir));
  assert.equal(same.code, 0, describe(same));
  assert.match(same.stdout, /already there/);
  assert.match(same.stdout, /role pending/);
  using store = openTestStore(site);
  assert.equal((await store.listEncryptionKeys()).length, 1);
});
