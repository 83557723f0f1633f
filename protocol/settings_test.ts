import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signDocument } from "../envelope/signed_document.ts";
import {
  ALLOW_LEGACY_RELAYS_SETTING,
  checkSetting,
  mergeSettings,
  type SettingsDocument,
  signSettings,
  valuesInForce,
  verifySettings,
} from "./settings.ts";

function document(
  issuedAt: number,
  computers: SettingsDocument["computers"],
  settings: Record<string, string>,
  id = `id-${issuedAt}`,
): SettingsDocument {
  return { computers, settings, issuedAt, id };
}

Deno.test("mergeSettings() applies a document withheld once when it is served later", () => {
  const siteWide = document(1, "all", { A: "site" });
  const perComputer = document(2, [7], { B: "mine" });
  const withheld = mergeSettings({}, [perComputer]);
  assert.equal(withheld.A, undefined);
  const later = mergeSettings(withheld, [siteWide, perComputer]);
  assert.equal(later.A.value, "site");
  assert.equal(later.B.value, "mine");
});

Deno.test("mergeSettings() never lets an older document override a newer one for the same setting, in any order", () => {
  const older = document(1, [7], { A: "old", C: "only-old" });
  const newer = document(2, "all", { A: "new" });
  for (const order of [[older, newer], [newer, older]]) {
    const merged = mergeSettings({}, order);
    assert.equal(merged.A.value, "new");
    assert.equal(merged.C.value, "only-old");
  }
  const held = mergeSettings({}, [newer]);
  assert.equal(mergeSettings(held, [older]).A.value, "new");
});

Deno.test("mergeSettings() breaks a tie of issue times by id, and takes settings named like Object methods", () => {
  const a = document(5, "all", { A: "a", constructor: "x" }, "aaa");
  const b = document(5, "all", { A: "b" }, "bbb");
  assert.equal(mergeSettings({}, [a, b]).A.value, "b");
  assert.equal(mergeSettings({}, [b, a]).A.value, "b");
  assert.equal(mergeSettings({}, [a])["constructor"].value, "x");
});

Deno.test("checkSetting() takes 0 or 1 for the legacy-relay permission only", () => {
  checkSetting(ALLOW_LEGACY_RELAYS_SETTING, "1");
  checkSetting(ALLOW_LEGACY_RELAYS_SETTING, "0");
  assert.throws(() => checkSetting(ALLOW_LEGACY_RELAYS_SETTING, "yes"), RangeError);
});

Deno.test("verifySettings() refuses a document meant for other computers", async () => {
  const { privateKey, publicKey } = await generateSigningKeyPair();
  const signed = await signSettings(privateKey, document(1, [3], { A: "1" }));
  assert.equal((await verifySettings(publicKey, signed, 3)).settings.A, "1");
  await assert.rejects(() => verifySettings(publicKey, signed, 4), /not meant for computer 4/);
});

const site = await generateSigningKeyPair();

function settingsDocument(settings: unknown) {
  return signDocument(site.privateKey, "mle-settings", {
    computers: "all",
    settings,
    issuedAt: 1,
    id: "00112233445566778899aabbccddeeff",
  });
}

Deno.test("verifySettings() gives the settings a document for all computers sets", async () => {
  const document = await settingsDocument({ _BESClient_UploadManager_ChunkSize: "4096" });
  const verified = await verifySettings(site.publicKey, document, 7);
  assert.deepEqual(verified.settings, { _BESClient_UploadManager_ChunkSize: "4096" });
});

// Found by settings_fuzz_test.ts: a value that is not text passed as its String() form, and
// reached the client's settings as an object or a number.
Deno.test("verifySettings() refuses a setting whose value is not a string with ERR_DOCUMENT_INVALID", async () => {
  for (const settings of [{ _BESClient_UploadManager_ChunkSize: {} }, { Name: 5 }, ["x"]]) {
    await assert.rejects(verifySettings(site.publicKey, await settingsDocument(settings), 7), {
      name: "MleError",
      code: "ERR_DOCUMENT_INVALID",
    }, JSON.stringify(settings));
  }
});

Deno.test("mergeSettings() applies a removal like a value: newest wins per setting, in any order", () => {
  const set = document(1, "all", { A: "1", B: "2" });
  const removal: SettingsDocument = { ...document(2, [7], {}), unset: ["A"] };
  const later = document(3, [7], { A: "3" });
  for (const order of [[set, removal], [removal, set]]) {
    const merged = mergeSettings({}, order);
    assert.equal(merged.A.value, null);
    assert.deepEqual(valuesInForce(merged), { B: "2" });
  }
  assert.equal(mergeSettings(mergeSettings({}, [removal]), [later, set]).A.value, "3");
});

Deno.test("signSettings() and verifySettings() refuse a removal list that is malformed or also sets the name", async () => {
  const { privateKey, publicKey } = await generateSigningKeyPair();
  await assert.rejects(
    () => signSettings(privateKey, { ...document(1, "all", { A: "1" }), unset: ["A"] }),
    /Cannot both set and remove "A"/,
  );
  await assert.rejects(
    () => signSettings(privateKey, { ...document(1, "all", {}), unset: ["bad-name"] }),
    /letters, digits and underscores/,
  );
  const signed = await signSettings(privateKey, { ...document(1, "all", {}), unset: ["A"] });
  assert.deepEqual((await verifySettings(publicKey, signed, 3)).unset, ["A"]);
});

Deno.test("checkSetting() takes parent URLs for __RelayServer1/2 and seconds for the resist interval", () => {
  checkSetting("__RelayServer1", "http://relay.example:52311");
  checkSetting("__RelayServer2", "");
  checkSetting("_BESClient_RelaySelect_ResistFailureIntervalSeconds", "0");
  checkSetting("_BESClient_RelaySelect_ResistFailureIntervalSeconds", "600");
  assert.throws(() => checkSetting("__RelayServer1", "relay.example"), RangeError);
  assert.throws(() => checkSetting("__RelayServer2", "ftp://relay.example"), RangeError);
  for (const bad of ["-1", "1.5", "86401", "soon"]) {
    assert.throws(
      () => checkSetting("_BESClient_RelaySelect_ResistFailureIntervalSeconds", bad),
      RangeError,
    );
  }
  assert.throws(() => checkSetting("___Three", "x"), RangeError);
});
