import assert from "node:assert/strict";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { AUTHORIZED_CLIENTS_FILE, AuthorizedClients } from "./authorized_clients.ts";

async function publicKeyText(): Promise<string> {
  const pair = await generateSigningKeyPair();
  return encodeBase64Url(await exportSigningPublicKey(pair.publicKey));
}

Deno.test("AuthorizedClients persists admitted clients (0600) and finds them by id and key after a reopen", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-authorized-" });
  try {
    const key = await publicKeyText();
    const clients = await AuthorizedClients.open(dataDir);
    assert.equal(clients.size, 0);
    assert.equal(await clients.publicKeyOf(7), null);
    await clients.put({
      computerId: 7,
      publicKey: key,
      authorizedAt: "now",
      by: "shared password",
    });
    const info = await Deno.stat(`${dataDir}/${AUTHORIZED_CLIENTS_FILE}`);
    assert.equal(info.mode! & 0o777, 0o600);

    const reopened = await AuthorizedClients.open(dataDir);
    assert.equal(reopened.get(7)?.publicKey, key);
    assert.equal(reopened.byPublicKey(key)?.computerId, 7);
    assert.equal((await reopened.publicKeyOf(7))?.type, "public");

    // The parent gave the same key a new id: the old entry goes.
    await reopened.put({ computerId: 9, publicKey: key, authorizedAt: "later", by: "known key" });
    assert.equal(reopened.get(7), undefined);
    assert.equal(reopened.byPublicKey(key)?.computerId, 9);
    assert.equal((await AuthorizedClients.open(dataDir)).size, 1);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("AuthorizedClients.open() refuses a file it did not write, naming it", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-authorized-" });
  try {
    const path = `${dataDir}/${AUTHORIZED_CLIENTS_FILE}`;
    for (
      const text of [
        "not json",
        '{"version":2,"clients":[]}',
        '{"version":1,"clients":[{"computerId":-1}]}',
      ]
    ) {
      await Deno.writeTextFile(path, text);
      await assert.rejects(AuthorizedClients.open(dataDir), (error: Error) => {
        assert.ok(error instanceof RangeError);
        assert.ok(error.message.includes(path), error.message);
        return true;
      });
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
