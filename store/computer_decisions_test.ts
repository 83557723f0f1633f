import assert from "node:assert/strict";
import { signComputerDecision } from "../protocol/computer_decision.ts";
import {
  computerDecisionDraft,
  DecisionError,
  recordComputerDecision,
  signAndRecordComputerDecision,
} from "./computer_decisions.ts";
import { SqliteStore } from "./sqlite_store.ts";

const NOW = 1_700_000_000_000;

async function withStore(body: (store: SqliteStore, site: CryptoKeyPair) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "mle-decisions-test-" });
  const store = new SqliteStore(`${dir}/mle.db`);
  const site = await crypto.subtle.generateKey("Ed25519", false, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  try {
    await store.registerComputer({
      publicKey: "old",
      hostIdentity: "h",
      hostname: "pc",
      registeredAt: 1,
    });
    const claimant = await store.registerComputer({
      publicKey: "new",
      hostIdentity: "h",
      hostname: "pc",
      registeredAt: 2,
      claimsToReplace: 1,
    });
    await store.flagComputer(claimant.id, "claims to replace computer 1 (compromised)");
    await body(store, site);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const refusedWith = (code: string) => (error: unknown) =>
  error instanceof DecisionError && error.code === code;

Deno.test("recordComputerDecision() confirms a flagged computer and revokes the one it replaces", async () => {
  await withStore(async (store, site) => {
    const document = await signComputerDecision(
      site.privateKey,
      await computerDecisionDraft(store, "confirm", 2, NOW),
    );
    const recorded = await recordComputerDecision(store, site.publicKey, document, NOW);
    assert.equal(recorded.revokedReplaced, 1);
    assert.equal((await store.getComputer(2))!.flagged, null);
    assert.notEqual((await store.getComputer(1))!.revokedAt, null);
  });
});

Deno.test("recordComputerDecision() refuses a replayed decision (409 ERR_DECISION_STALE)", async () => {
  await withStore(async (store, site) => {
    const allow = await signComputerDecision(
      site.privateKey,
      await computerDecisionDraft(store, "allow-bundles", 2, NOW),
    );
    await recordComputerDecision(store, site.publicKey, allow, NOW);
    assert.equal(await store.isBundleSender(2), true);
    await signAndRecordComputerDecision(store, site, "disallow-bundles", 2, NOW);
    assert.equal(await store.isBundleSender(2), false);
    await assert.rejects(
      () => recordComputerDecision(store, site.publicKey, allow, NOW),
      refusedWith("ERR_DECISION_STALE"),
    );
    assert.equal(await store.isBundleSender(2), false, "the replay changed nothing");
  });
});

Deno.test("recordComputerDecision() refuses another key, an old decision and unknown or revoked computers", async () => {
  await withStore(async (store, site) => {
    const other = await crypto.subtle.generateKey("Ed25519", false, ["sign"]) as CryptoKeyPair;
    const draft = await computerDecisionDraft(store, "allow-bundles", 2, NOW);
    await assert.rejects(
      async () =>
        recordComputerDecision(
          store,
          site.publicKey,
          await signComputerDecision(other.privateKey, draft),
          NOW,
        ),
      refusedWith("ERR_DECISION_INVALID"),
    );
    await assert.rejects(
      async () =>
        recordComputerDecision(
          store,
          site.publicKey,
          await signComputerDecision(site.privateKey, { ...draft, issuedAt: NOW - 11 * 60_000 }),
          NOW,
        ),
      refusedWith("ERR_DECISION_INVALID"),
    );
    await assert.rejects(
      () => computerDecisionDraft(store, "confirm", 99, NOW),
      refusedWith("ERR_DECISION_INVALID"),
    );
    await store.revokeComputer(1, NOW);
    await assert.rejects(
      () => signAndRecordComputerDecision(store, site, "allow-bundles", 1, NOW),
      refusedWith("ERR_DECISION_INVALID"),
    );
    assert.equal(await store.isBundleSender(2), false);
  });
});
