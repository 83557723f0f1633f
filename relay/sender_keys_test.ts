import assert from "node:assert/strict";
import { readUpstreamMessage } from "../envelope/report_message.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { readUploadManifestMessage, signUploadManifest } from "../envelope/upload_manifest.ts";
import { createMessageFactory } from "./_test_utils.ts";
import { refuseForgery } from "./sender_keys.ts";

Deno.test("refuseForgery() refuses a report or manifest not signed with its sender's known key, and passes what it cannot judge", async () => {
  const messages = await createMessageFactory();
  const other = await generateSigningKeyPair();
  const report = readUpstreamMessage(JSON.parse(await messages.clear(7, 1)));
  const manifest = readUploadManifestMessage(
    await signUploadManifest(
      other.privateKey,
      { cid: 7, uid: "00112233445566778899aabbccddeeff", cs: 1024, cc: 1 },
      new TextEncoder().encode("{}"),
    ),
  );
  const knowsOther = { knownKey: (cid: number) => cid === 7 ? other.publicKey : null };

  const forged = await refuseForgery(knowsOther, { what: "report", message: report });
  assert.equal(forged?.status, 403);
  assert.equal(forged?.body.error.code, "ERR_SIGNATURE_INVALID");
  assert.match(forged!.body.error.message, /^Cannot accept report: .*computer 7/);
  assert.equal(
    await refuseForgery(knowsOther, { what: "upload manifest", message: manifest }),
    null,
  );
  assert.equal(
    await refuseForgery({ knownKey: () => null }, { what: "report", message: report }),
    null,
    "an unknown key is checked upstream",
  );
  assert.equal(await refuseForgery(undefined, { what: "report", message: report }), null);
});
