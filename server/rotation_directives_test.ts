import assert from "node:assert/strict";
import { SqliteStore } from "../store/sqlite_store.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signRotationDirective } from "../protocol/rotation_directive.ts";
import { RotationDirectives } from "./rotation_directives.ts";

Deno.test("RotationDirectives serves the directive to the computers it names, and to no other", async () => {
  const store = new SqliteStore(":memory:");
  try {
    const directives = new RotationDirectives(store, 0);
    assert.equal(await directives.documentFor(7), null, "none signed yet");
    const site = await generateSigningKeyPair();
    const { document } = await store.recordDocument(
      "rotation-directive",
      async (serial) =>
        JSON.stringify(
          await signRotationDirective(site.privateKey, {
            serial,
            issuedAt: 1,
            requests: [{ computerId: 7, requestedIn: serial, requestedAt: 1, compromised: false }],
          }),
        ),
    );
    assert.equal(await directives.documentFor(7), document);
    assert.equal(await directives.documentFor(8), null);
  } finally {
    store.close();
  }
});
