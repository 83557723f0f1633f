import assert from "node:assert/strict";
import { anyJson, documentBodies, fc, fuzzParser, noError } from "../tests/fuzz.ts";
import { readCapabilities } from "./capabilities.ts";

const ANSWER = {
  role: "relay",
  acceptsEncryptedReports: true,
  authenticating: false,
  decrypting: false,
  version: "1",
};

Deno.test("fuzz: readCapabilities() reads any answer, unknowns as the safe default, and never throws", async () => {
  await fuzzParser("readCapabilities", fc.oneof(documentBodies(ANSWER), anyJson), (value) => {
    const capabilities = readCapabilities(value);
    assert.ok(capabilities.role === "server" || capabilities.role === "relay");
    assert.equal(
      capabilities.acceptsEncryptedReports,
      (value as { acceptsEncryptedReports?: unknown } | null)?.acceptsEncryptedReports === true,
    );
    assert.ok(capabilities.version.length <= 64);
  }, noError);
});
