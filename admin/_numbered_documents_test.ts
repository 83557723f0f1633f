import assert from "node:assert/strict";
import { CliError } from "../cli/output.ts";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signRevocations, verifyRevocations } from "../protocol/revocations.ts";
import { SqliteStore } from "../store/sqlite_store.ts";
import { recordSupersedingDocument } from "./_numbered_documents.ts";

const site = await generateSigningKeyPair();
const YEAR = 365 * 86_400_000;

/** Publishes an empty list issued at `issuedAt`; returns what stderr said. */
async function publish(store: SqliteStore, issuedAt: number): Promise<string> {
  const said: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => said.push(args.join(" "));
  try {
    await recordSupersedingDocument(
      "revocation list",
      issuedAt,
      (version) => signRevocations(site.privateKey, { revoked: [], ...version }),
      (signer) => store.recordDocument("revocations", signer),
    );
  } finally {
    console.error = original;
  }
  return said.join("\n");
}

Deno.test("a document signed after one from a clock far ahead supersedes it by serial, with a warning about the clock", async () => {
  const store = new SqliteStore(":memory:");
  try {
    const now = Date.now();
    assert.equal(await publish(store, now + 10 * YEAR), "");
    const said = await publish(store, now);
    assert.match(
      said,
      /^mle-admin: warning: the previous revocation list says it was issued at \d{4}-.*later than this host's clock.*serial 2/,
    );
    const list = await verifyRevocations(
      site.publicKey,
      JSON.parse((await store.getDocument("revocations"))!),
    );
    assert.deepEqual([list.serial, list.issuedAt], [2, now]);
    assert.equal(await publish(store, now + 1), "");
  } finally {
    store.close();
  }
});

Deno.test("a document that would not supersede the one the server serves is refused, and nothing is recorded", async () => {
  const store = new SqliteStore(":memory:");
  try {
    // A list with serial 9 copied into the store by hand: the store's own count is behind it.
    const copied = JSON.stringify(
      await signRevocations(site.privateKey, { revoked: [], serial: 9, issuedAt: 1 }),
    );
    await store.putDocument("revocations", copied);
    await assert.rejects(
      publish(store, Date.now()),
      (error: unknown) =>
        error instanceof CliError &&
        /Cannot publish the revocation list: it would not supersede the one the server serves \(that one has serial 9/
          .test(error.message),
    );
    assert.equal(await store.getDocument("revocations"), copied);
  } finally {
    store.close();
  }
});
