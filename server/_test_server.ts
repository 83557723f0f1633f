/**
 * Test support for the server's own tests: a data dir and its store, with one current MLE key
 * installed as the admin tool installs it (key file and store record), the server app over it,
 * and registered computers.
 *
 * @module
 */

import { silentLogger } from "../cli/log.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSpki } from "../envelope/encryption_key.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import { openStore, type Store } from "../store/mod.ts";
import { createServerApp } from "./app.ts";
import { BatchWriter } from "./batch_writer.ts";
import { BundleIngest } from "./bundle_ingest.ts";
import { ComputerDirectory } from "./computer_directory.ts";
import { ContentKeySource } from "./content_key_source.ts";
import { KeyRing } from "./key_ring.ts";
import { createOpsApp } from "./ops_app.ts";
import { type NewEncryptionKey, writeNewEncryptionKey } from "../tests/new_encryption_key.ts";

/** Runs `test` with the store of a new temporary data dir, then closes it and removes the dir. */
export async function withStore(test: (store: Store, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mle-server-test-" });
  const store = openStore(dir);
  try {
    await test(store, dir);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A 2048-bit key made current in `dataDir`: its file in `Encryption Keys`, its store record. */
export async function installCurrentKey(
  store: Store,
  dataDir: string,
): Promise<NewEncryptionKey> {
  const { kid, pair } = await writeNewEncryptionKey(dataDir);
  await store.addEncryptionKey({
    kid,
    spki: encodeBase64Url(await exportSpki(pair.publicKey)),
    bits: 2048,
    role: "current",
    createdAt: Date.now(),
    deployedAt: Date.now(),
    retiredAt: null,
  });
  return { kid, pair };
}

/** A registered computer and its key pair. */
export interface TestComputer {
  id: number;
  keys: CryptoKeyPair;
}

/** Registers a computer with a new key pair, as the server's registration would. */
export async function registerTestComputer(store: Store, name: string): Promise<TestComputer> {
  const keys = await generateSigningKeyPair();
  const record = await store.registerComputer({
    publicKey: encodeBase64Url(await exportSigningPublicKey(keys.publicKey)),
    hostIdentity: `instance:${name}`,
    hostname: name,
    registeredAt: Date.now(),
  });
  return { id: record.id, keys };
}

/**
 * A fresh data dir with a current key, and the server app and operations app over it (no
 * listening socket); `await using` closes the store and removes the dir at the end of the scope.
 */
export async function openTestServer(prefix: string) {
  const dir = await Deno.makeTempDir({ prefix });
  const store = openStore(dir);
  const { kid, pair } = await installCurrentKey(store, dir);
  const keys = new KeyRing({ store, dataDir: dir, log: silentLogger });
  await keys.refresh();
  const ingest = {
    computers: new ComputerDirectory(store),
    keys,
    contentKeys: new ContentKeySource({ keys }),
    writer: new BatchWriter(store),
    isClearTextRefused: () => false,
    now: Date.now,
  };
  const log = silentLogger;
  const bundles = new BundleIngest({ store, ingest, log });
  const app = createServerApp({ store, log, masthead: null, ingest, bundles });
  const ops = createOpsApp({
    store,
    keys,
    contentKeys: ingest.contentKeys,
    writer: ingest.writer,
    bundles,
    log,
  });
  return {
    dir,
    store,
    keys,
    app,
    ops,
    kid,
    pair,
    async [Symbol.asyncDispose]() {
      store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
