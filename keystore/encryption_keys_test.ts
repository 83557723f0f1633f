import assert from "node:assert/strict";
import { serverKeyPair as pair, serverKid as kid } from "../envelope/_test_keys.ts";
import { MleError } from "../envelope/errors.ts";
import { testInTemporaryDir } from "../tests/temp_dir.ts";
import {
  encryptionKeyFileText,
  encryptionKeysDir,
  loadEncryptionKeys,
  readEncryptionKeyFile,
  writeEncryptionKeyFile,
} from "./encryption_keys.ts";

testInTemporaryDir(
  "an MLE key written to Encryption Keys as <kid>.pvk loads back with the same key id",
  async (dir) => {
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
  },
);
