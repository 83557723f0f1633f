import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { errorBody } from "../protocol/http_error.ts";
import { createMasthead } from "../protocol/masthead.ts";
import { API } from "../protocol/paths.ts";
import { signRevocations } from "../protocol/revocations.ts";
import { eventually } from "../tests/eventually.ts";
import { ParentStub } from "./_parent_stub.ts";
import { PinnedMasthead } from "./pinned_masthead.ts";
import { RevocationList, REVOCATIONS_FILE } from "./revocation_list.ts";

const site = await generateSigningKeyPair();
const sitePublicKey = encodeBase64Url(await exportSigningPublicKey(site.publicKey));
const masthead = JSON.stringify(
  await createMasthead(site.privateKey, sitePublicKey, {
    siteName: "test",
    serverUrls: ["http://127.0.0.1:52311"],
  }),
);
const list = (revoked: number[], issuedAt: number) =>
  signRevocations(site.privateKey, { revoked, issuedAt });

async function withSetup(
  body: (setup: { dataDir: string; stub: ParentStub }) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-revocations-" });
  const stub = new ParentStub();
  try {
    await body({ dataDir, stub });
  } finally {
    await stub.close();
    await Deno.remove(dataDir, { recursive: true });
  }
}

async function open(dataDir: string, parentUrl: string, mastheadFile?: string) {
  const pinned = await PinnedMasthead.open({ dataDir, mastheadFile });
  return await RevocationList.open({ dataDir, parentUrl, masthead: pinned, timeoutMs: 2_000 });
}

Deno.test("RevocationList keeps the newest verified list: older, forged and unsigned ones are ignored", async () => {
  await withSetup(async ({ dataDir, stub }) => {
    await Deno.writeTextFile(`${dataDir}/masthead-file.json`, masthead);
    const revocations = await open(dataDir, stub.url, `${dataDir}/masthead-file.json`);
    assert.equal(revocations.isRevoked(5), false);
    assert.equal(revocations.refusalFor(5), null);

    assert.equal(await revocations.offer(await list([5, 6], 2_000)), "adopted");
    assert.equal(revocations.isRevoked(5), true);
    assert.equal(revocations.refusalFor(6)?.body.error.code, "ERR_COMPUTER_REVOKED");
    assert.equal(await revocations.offer(await list([5, 6], 2_000)), "same");
    assert.equal(await revocations.offer(await list([], 1_000)), "older");
    assert.equal(revocations.isRevoked(5), true);

    const intruder = await generateSigningKeyPair();
    const forged = await signRevocations(intruder.privateKey, { revoked: [], issuedAt: 9_000 });
    assert.equal(await revocations.offer(forged), "invalid");
    assert.equal(await revocations.offer({ revoked: [], issuedAt: 9_000 }), "invalid");
    assert.deepEqual(revocations.status, { revoked: 2, issuedAt: 2_000 });

    // Retired keys come with a newer list.
    const kid = "ab".repeat(20);
    assert.equal(revocations.isKeyRetired(kid), false);
    const withKey = await signRevocations(site.privateKey, {
      revoked: [5, 6],
      retiredKeys: [kid],
      issuedAt: 3_000,
    });
    assert.equal(await revocations.offer(withKey), "adopted");
    assert.equal(revocations.isKeyRetired(kid), true);
    assert.equal(revocations.isKeyRetired("cd".repeat(20)), false);
    assert.equal(await revocations.offer(await list([5, 6], 2_500)), "older");
    assert.equal(revocations.isKeyRetired(kid), true, "an older list cannot bring a key back");

    // Persisted: a new instance (a restart) knows the list without asking anyone.
    const reopened = await open(dataDir, stub.url);
    assert.equal(reopened.isRevoked(6), true);
    assert.equal(reopened.isKeyRetired(kid), true);
    assert.equal((await Deno.stat(`${dataDir}/${REVOCATIONS_FILE}`)).isFile, true);
  });
});

Deno.test("RevocationList.refresh() pins the parent's masthead on first use, then fetches and verifies the list", async () => {
  await withSetup(async ({ dataDir, stub }) => {
    const revocations = await open(dataDir, stub.url);
    await revocations.refresh(); // no masthead at the parent yet: nothing verifiable
    assert.equal(await revocations.offer(await list([1], 1)), "unverifiable");

    stub.documents.set(API.masthead, masthead);
    stub.documents.set(API.revocations, JSON.stringify(await list([3], 10)));
    await revocations.refresh();
    assert.equal(revocations.isRevoked(3), true);
    assert.equal(
      JSON.parse(await Deno.readTextFile(`${dataDir}/masthead.json`)).signature.length > 0,
      true,
    );

    // Another site's masthead never replaces the pinned one.
    const other = await generateSigningKeyPair();
    const otherMasthead = await createMasthead(
      other.privateKey,
      encodeBase64Url(await exportSigningPublicKey(other.publicKey)),
      { siteName: "other", serverUrls: ["http://127.0.0.1:1"] },
    );
    await Deno.writeTextFile(`${dataDir}/other.json`, JSON.stringify(otherMasthead));
    await assert.rejects(
      PinnedMasthead.open({ dataDir, mastheadFile: `${dataDir}/other.json` }),
      /another site/,
    );

    // The parent serving an older list, or none at all: the relay keeps what it has.
    stub.documents.set(API.revocations, JSON.stringify(await list([], 5)));
    await revocations.refresh();
    assert.equal(revocations.isRevoked(3), true);
    stub.documents.delete(API.revocations);
    await revocations.refresh();
    assert.equal(revocations.isRevoked(3), true);
  });
});

Deno.test("RevocationList.answerFor() serves the newest verified list, adopting a newer one the parent gives", async () => {
  await withSetup(async ({ dataDir, stub }) => {
    await Deno.writeTextFile(`${dataDir}/m.json`, masthead);
    const revocations = await open(dataDir, stub.url, `${dataDir}/m.json`);
    const encoder = new TextEncoder();
    const none = {
      status: 404,
      body: encoder.encode(JSON.stringify(errorBody("ERR_NO_REVOCATIONS", "none"))),
      stale: false,
    };
    assert.equal(await revocations.answerFor(none), none);

    const newer = await list([8], 20);
    const fromParent = await revocations.answerFor({
      status: 200,
      body: encoder.encode(JSON.stringify(newer)),
      stale: false,
    });
    assert.equal(fromParent.status, 200);
    assert.equal(revocations.isRevoked(8), true);

    const older = await revocations.answerFor({
      status: 200,
      body: encoder.encode(JSON.stringify(await list([], 10))),
      stale: true,
    });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(older.body)), newer);
    assert.equal(older.stale, true);
  });
});

Deno.test("RevocationList.start() refreshes on its interval and stop() ends it", async () => {
  await withSetup(async ({ dataDir, stub }) => {
    stub.documents.set(API.masthead, masthead);
    const pinned = await PinnedMasthead.open({ dataDir });
    const revocations = await RevocationList.open({
      dataDir,
      parentUrl: stub.url,
      masthead: pinned,
      intervalMs: 50,
    });
    revocations.start();
    try {
      stub.documents.set(API.revocations, JSON.stringify(await list([4], 30)));
      await eventually(
        () => revocations.isRevoked(4) ? true : undefined,
        "the relay to fetch the list naming computer 4",
        5_000,
      );
    } finally {
      await revocations.stop();
    }
  });
});

Deno.test("RevocationList orders by the store's serial: a list signed with a clock far ahead does not freeze later ones, and a list without serial never replaces one with", async () => {
  await withSetup(async ({ dataDir, stub }) => {
    await Deno.writeTextFile(`${dataDir}/masthead-file.json`, masthead);
    const revocations = await open(dataDir, stub.url, `${dataDir}/masthead-file.json`);
    const farAhead = Date.now() + 10 * 365 * 86_400_000;
    const numbered = (revoked: number[], serial: number, issuedAt: number) =>
      signRevocations(site.privateKey, { revoked, serial, issuedAt });
    assert.equal(await revocations.offer(await list([1], farAhead)), "adopted");
    assert.equal(await revocations.offer(await numbered([1, 2], 1, farAhead)), "adopted");
    assert.equal(await revocations.offer(await numbered([1, 2, 3], 2, Date.now())), "adopted");
    assert.equal(revocations.isRevoked(3), true);
    assert.equal(await revocations.offer(await list([], farAhead + 1)), "older");
    assert.equal(await revocations.offer(await numbered([], 1, farAhead + 1)), "older");
    assert.equal(revocations.isRevoked(3), true);
  });
});
