import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { ENCRYPTION_LEVEL_SETTING } from "../protocol/encryption_level.ts";
import { signSettings } from "../protocol/settings.ts";
import { SqliteStore } from "../store/mod.ts";
import type { Store } from "../store/store.ts";
import { ClearTextPolicy } from "./clear_text_policy.ts";

const siteKey = (await generateSigningKeyPair()).privateKey;

function memoryStore(): SqliteStore & Disposable {
  const store = new SqliteStore(":memory:");
  return Object.assign(store, { [Symbol.dispose]: () => store.close() });
}
let issued = 0;

/** Records a site-signed settings document for these computers (null: all), as the admin does. */
async function deploy(
  store: Store,
  computerIds: number[] | null,
  settings: Record<string, string>,
  unset?: string[],
): Promise<void> {
  const document = await signSettings(siteKey, {
    computers: computerIds ?? "all",
    settings,
    issuedAt: ++issued,
    id: crypto.randomUUID(),
    ...(unset ? { unset } : {}),
  });
  await store.addSettings(computerIds, JSON.stringify(document), issued);
}

Deno.test("ClearTextPolicy refuses clear text where the deployed level, else the reported one, is required", async () => {
  using store = memoryStore();
  const policy = new ClearTextPolicy(store, true);
  assert.equal(await policy.refresh(), 0, "read once at start, though there is nothing yet");
  assert.equal(policy.isRefused(1, "required"), true, "no setting: the level it reported");
  assert.equal(policy.isRefused(1, "optional"), false);
  assert.equal(policy.isRefused(1, null), false);

  await deploy(store, [1], { [ENCRYPTION_LEVEL_SETTING]: "Required" });
  await deploy(store, [2], { [ENCRYPTION_LEVEL_SETTING]: "optional" });
  assert.equal(policy.isRefused(1, "optional"), false, "not read yet: what was in force stays");
  assert.equal(await policy.refresh(), 2);
  assert.equal(policy.isRefused(1, "optional"), true, "deployed required (any case) wins");
  assert.equal(policy.isRefused(2, "required"), false, "deployed optional wins over reported");
  assert.equal(policy.isRefused(3, "optional"), false);
  assert.equal(await policy.refresh(), null, "nothing added: nothing read");

  await deploy(store, null, { [ENCRYPTION_LEVEL_SETTING]: "required" });
  await deploy(store, [1], {}, [ENCRYPTION_LEVEL_SETTING]);
  assert.equal(await policy.refresh(), 4);
  assert.equal(policy.isRefused(3, null), true, "required for all");
  assert.equal(policy.isRefused(2, "optional"), true, "the newer document for all wins");
  assert.equal(policy.isRefused(1, "optional"), false, "removed for 1: its reported level");
  assert.equal(policy.isRefused(1, "required"), true);
});

Deno.test("ClearTextPolicy with --accept-clear-from-required refuses nothing and reads no settings", async () => {
  using store = memoryStore();
  await deploy(store, null, { [ENCRYPTION_LEVEL_SETTING]: "required" });
  let reads = 0;
  const counting = Object.create(store, {
    settingsVersion: { value: () => (reads++, store.settingsVersion()) },
    listSettings: { value: () => (reads++, store.listSettings()) },
  }) as Store;
  const policy = new ClearTextPolicy(counting, false);
  assert.equal(await policy.refresh(), null);
  assert.equal(policy.isRefused(1, "required"), false);
  assert.equal(reads, 0);
});
