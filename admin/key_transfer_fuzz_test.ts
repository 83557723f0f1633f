import assert from "node:assert/strict";
import { anyJson, anyText, documentBodies, fc, fuzzParser, mleError } from "../tests/fuzz.ts";
import { CliError } from "../cli/output.ts";
import { readPasswordSealed, sealWithPassword } from "../keystore/password_seal.ts";
import { readTransferFile, TRANSFER_FORMAT } from "./key_transfer.ts";
import { KID_A } from "../envelope/_test_key_ids.ts";

const FILE = {
  format: TRANSFER_FORMAT,
  kid: KID_A,
  bits: 2048,
  role: "current",
  fingerprint: "SHA256:…",
  publicKey: "MIIB",
  // The cheapest seal: the reader never derives a key, so the count does not matter here.
  sealed: await sealWithPassword("x", new Uint8Array(1), "{}", "a long transfer password"),
};

Deno.test("fuzz: a transfer file is read up to its seal's structure, or refused with CliError or ERR_KEY_INVALID", async () => {
  const texts = fc.oneof(
    documentBodies(FILE).map((file) => JSON.stringify(file)),
    anyJson.map((value) => JSON.stringify(value)),
    anyText,
  );
  const isCliError = (error: unknown) => error instanceof CliError;
  const isKeyInvalid = mleError("ERR_KEY_INVALID");
  await fuzzParser("readTransferFile+readPasswordSealed", texts, (text) => {
    const file = readTransferFile(text, KID_A, "k.mle-key.json");
    assert.equal(file.kid, KID_A);
    readPasswordSealed(file.sealed);
  }, (error) => isCliError(error) || isKeyInvalid(error));
});
