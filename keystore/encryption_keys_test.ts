import assert from "node:assert/strict";
import { encryptionKeyId, generateEncryptionKeyPair } from "../envelope/encryption_key.ts";
import { MleError } from "../envelope/errors.ts";
import {
  encryptionKeyFileText,
  encryptionKeysDir,
  loadEncryptionKeys,
  readEncryptionKeyFile,
  writeEncryptionKeyFile,
} from "./encryption_keys.ts";

Deno.test("an MLE key written to Encryption Keys as <kid>.pvk loads back with the same key id", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pair = await generateEncryptionKeyPair(2048);
    const kid = await encryptionKeyId(pair.publicKey);
    const path = await writeEncryptionKeyFile(
      encryptionKeysDir(dir),
      kid,
      await encryptionKeyFileText(pair.privateKey, kid),
    );
    assert.ok(path.endsWith(`/Encryption Keys/${kid}.pvk`));
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.match(await Deno.readTextFile(path), /-----BEGIN PRIVATE KEY-----/);
    const keys = await loadEncryptionKeys(dir);
    assert.deepEqual([...keys.keys()], [kid]);
    assert.equal(keys.get(kid)!.bits, 2048);
    await assert.rejects(
      () => readEncryptionKeyFile(path, "0".repeat(40)),
      (error) => error instanceof MleError && error.code === "ERR_KEY_INVALID",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
