import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { type RegistrationClaims, signRegistration, verifyRegistration } from "./registration.ts";

async function signed(fields: Record<string, unknown>) {
  const keys = await generateSigningKeyPair();
  const claims = {
    publicKey: encodeBase64Url(await exportSigningPublicKey(keys.publicKey)),
    hostIdentity: "instance:0f8c",
    hostname: "host-1.example",
    issuedAt: 1,
    ...fields,
  };
  return await signRegistration(keys.privateKey, claims as unknown as RegistrationClaims);
}

Deno.test("verifyRegistration() accepts a registration signed by the key it carries", async () => {
  const { claims } = await verifyRegistration(
    await signed({ previousComputerId: 7, compromised: true }),
  );
  assert.deepEqual([claims.hostname, claims.previousComputerId, claims.compromised], [
    "host-1.example",
    7,
    true,
  ]);
});

Deno.test("verifyRegistration() refuses claims the operator's terminal or the server cannot take as they are", async () => {
  const cases: [string, Record<string, unknown>][] = [
    ["an escape sequence in the hostname", { hostname: "ok\u001b[2K\u001b[1Ahidden" }],
    ["a bidirectional override in the hostname", { hostname: "abc\u202edef" }],
    ["a newline in the host identity", { hostIdentity: "instance:a\ncomputer 1: fine" }],
    ["a hostname longer than 255", { hostname: "h".repeat(256) }],
    ["a host identity longer than 512", { hostIdentity: "i".repeat(513) }],
    ["a missing hostname", { hostname: undefined }],
    ["a previousComputerId that is no integer", { previousComputerId: 1.5 }],
    ["a compromised that is no boolean", { compromised: "yes" }],
  ];
  for (const [what, fields] of cases) {
    await assert.rejects(
      verifyRegistration(await signed(fields)),
      (error: unknown) =>
        error instanceof MleError && error.code === "ERR_ENVELOPE_MALFORMED" &&
        /missing or bad fields/.test(error.message),
      what,
    );
  }
});

Deno.test("verifyRegistration() refuses a registration signed by another key than it carries", async () => {
  const registration = await signed({});
  const other = await signed({});
  await assert.rejects(
    verifyRegistration({ ...registration, signature: other.signature }),
    (error: unknown) => error instanceof MleError && error.code === "ERR_SIGNATURE_INVALID",
  );
});
