import assert from "node:assert/strict";
import { silentLogger } from "../cli/log.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import { exportSpki } from "../envelope/encryption_key.ts";
import { createContentKey, decryptJwe, importAesKey, unwrapContentKey } from "../envelope/jwe.ts";
import { readJwsHeader } from "../envelope/jws.ts";
import {
  readUpstreamMessage,
  sealReport,
  signReport,
  verifyMessageSignature,
} from "../envelope/report_message.ts";
import {
  exportSigningPublicKey,
  generateSigningKeyPair,
  importSigningPublicKey,
} from "../envelope/signature.ts";
import { signEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { errorBody } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import {
  readRelayRequestAuth,
  RELAY_AUTH_HEADER,
  verifyRelayRequest,
} from "../protocol/relay_request.ts";
import {
  decodeBundle,
  jwsOfEntry,
  readBundleMessage,
  verifyBundleSignature,
} from "../protocol/report_bundle.ts";
import { waitUntil } from "../tests/eventually.ts";
import { writeNewEncryptionKey } from "../tests/new_encryption_key.ts";
import { ClientPublicKeys } from "./client_public_keys.ts";
import { DecryptingForwarder } from "./decrypting_forwarder.ts";
import { RelayIdentity } from "./relay_identity.ts";
import { RelayKeyRing } from "./relay_key_ring.ts";
import { ServerCertificate } from "./server_certificate.ts";
import { Spool } from "./spool.ts";

const RELAY_ID = 77;
const CLIENT_ID = 12;

/**
 * A parent (server) stand-in: registers the relay as computer 77, knows client 12, serves a
 * site-signed certificate, opens bundles with the server key and records what they held, and
 * takes single reports whose sender signature verifies.
 */
class BundleParent {
  up = true;
  allowRelay = false;
  /** `seq`s of the reports found in bundles, in order. */
  readonly bundled: number[] = [];
  /** `seq`s of the reports taken one by one. */
  readonly single: number[] = [];
  bundles = 0;
  relayPublicKey: CryptoKey | null = null;
  readonly server: Deno.HttpServer<Deno.NetAddr>;

  constructor(
    readonly serverKey: CryptoKeyPair,
    readonly certificate: string,
    readonly client: { publicKey: CryptoKey; text: string },
  ) {
    this.server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#handle(request),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.server.addr.port}`;
  }

  async #handle(request: Request): Promise<Response> {
    if (!this.up) return Response.json(errorBody("ERR_RETRY_LATER", "down"), { status: 503 });
    const path = new URL(request.url).pathname;
    if (path === API.register) {
      const registration = await request.json();
      const claims = JSON.parse(
        new TextDecoder().decode(
          Uint8Array.fromBase64(registration.payload, { alphabet: "base64url" }),
        ),
      );
      this.relayPublicKey = await importSigningPublicKey(
        Uint8Array.fromBase64(claims.publicKey, { alphabet: "base64url" }),
      );
      return Response.json({ computerId: RELAY_ID });
    }
    if (path === `${API.computers}/${CLIENT_ID}`) {
      // Only the relay may ask: its signature, by the key it registered, over this request.
      const auth = readRelayRequestAuth(request.headers.get(RELAY_AUTH_HEADER));
      if (
        auth?.computerId !== RELAY_ID ||
        !(await verifyRelayRequest(this.relayPublicKey!, auth, "GET", path))
      ) {
        return Response.json(errorBody("ERR_RELAY_AUTH_INVALID", "not the relay"), { status: 403 });
      }
      return Response.json({ computerId: CLIENT_ID, publicKey: this.client.text, maySend: true });
    }
    if (path === API.encryptionCertificate) {
      return new Response(this.certificate, { headers: { "content-type": "application/json" } });
    }
    if (path === API.bundles) {
      if (!this.allowRelay) {
        return Response.json(errorBody("ERR_RELAY_NOT_ALLOWED", "not allowed"), { status: 403 });
      }
      const { message, claims } = readBundleMessage(await request.json());
      await verifyBundleSignature(this.relayPublicKey!, message);
      const raw = await unwrapContentKey(this.serverKey.privateKey, message.encrypted_key);
      const entries = await decodeBundle(
        await decryptJwe(message, await importAesKey(raw!)),
        claims.n,
      );
      this.bundles += 1;
      const results = entries.map((entry) => {
        const { header } = readJwsHeader(jwsOfEntry(entry));
        this.bundled.push(header.seq as number);
        return { cid: header.cid, seq: header.seq, status: "stored" };
      });
      return Response.json({ bundle: claims.bid, results });
    }
    if (path === API.reports) {
      const parsed = readUpstreamMessage(await request.json());
      try {
        await verifyMessageSignature(this.client.publicKey, parsed);
      } catch {
        return Response.json(errorBody("ERR_SIGNATURE_INVALID", "bad signature"), {
          status: 403,
        });
      }
      this.single.push(parsed.claims.seq);
      return Response.json({ status: "stored" }, { status: 201 });
    }
    return Response.json(errorBody("ERR_NOT_FOUND", path), { status: 404 });
  }
}

interface Harness {
  root: string;
  relayDir: string;
  parent: BundleParent;
  kid: string;
  siteKey: CryptoKeyPair;
  serverKey: CryptoKeyPair;
  client: CryptoKeyPair;
  spool: Spool;
  /** Every forwarder made by {@linkcode forwarderFor}, stopped at the end of the scope. */
  forwarders: DecryptingForwarder[];
  /** Stops the forwarders and the parent, and removes the folder. */
  [Symbol.asyncDispose](): Promise<void>;
}

async function setUp(): Promise<Harness> {
  const root = await Deno.makeTempDir({ prefix: "mle-decrypting-forwarder-" });
  const relayDir = `${root}/relay`;
  const siteKey = await generateSigningKeyPair();
  const { kid, pair: serverKey } = await writeNewEncryptionKey(relayDir);
  const certificate = await signEncryptionCertificate(siteKey.privateKey, {
    enabled: true,
    kid,
    spki: encodeBase64Url(await exportSpki(serverKey.publicKey)),
    bits: 2048,
    issuedAt: Date.now(),
  });
  const client = await generateSigningKeyPair();
  const parent = new BundleParent(serverKey, JSON.stringify(certificate), {
    publicKey: client.publicKey,
    text: encodeBase64Url(await exportSigningPublicKey(client.publicKey)),
  });
  const forwarders: DecryptingForwarder[] = [];
  return {
    root,
    relayDir,
    parent,
    kid,
    siteKey,
    serverKey,
    client,
    spool: await Spool.open(relayDir),
    forwarders,
    async [Symbol.asyncDispose]() {
      for (const forwarder of forwarders) await forwarder.stop();
      await parent.server.shutdown();
      await Deno.remove(root, { recursive: true });
    },
  };
}

async function forwarderFor(
  harness: Harness,
  retired: ReadonlySet<string> = new Set(),
): Promise<DecryptingForwarder> {
  const identity = await RelayIdentity.open(harness.relayDir);
  const forwarder = new DecryptingForwarder({
    spool: harness.spool,
    parentUrl: harness.parent.url,
    keys: await RelayKeyRing.open({ dataDir: harness.relayDir, log: silentLogger }),
    retiredKeys: { isKeyRetired: (kid) => retired.has(kid) },
    identity,
    clientKeys: new ClientPublicKeys({ parentUrl: harness.parent.url, identity }),
    certificate: new ServerCertificate({
      parentUrl: harness.parent.url,
      dataDir: harness.relayDir,
      siteKey: harness.siteKey.publicKey,
      log: silentLogger,
    }),
    log: silentLogger,
    bundleMax: 10,
    bundleWaitMs: 50,
    minBackoffMs: 20,
    maxBackoffMs: 100,
  });
  harness.forwarders.push(forwarder);
  return forwarder;
}

function report(seq: number): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(JSON.stringify({ computerId: CLIENT_ID, seq }));
}

async function sealed(harness: Harness, seq: number) {
  const { contentKey } = await createContentKey(harness.serverKey.publicKey, harness.kid);
  return await sealReport(
    contentKey,
    harness.client.privateKey,
    { cid: CLIENT_ID, seq },
    report(seq),
  );
}

async function spool(harness: Harness, message: unknown): Promise<void> {
  await harness.spool.put(new TextEncoder().encode(JSON.stringify(message)));
}

/** Runs `forwarder` until the spool is empty, then stops it. */
async function drain(harness: Harness, forwarder: DecryptingForwarder): Promise<void> {
  forwarder.start();
  await waitUntil(() => harness.spool.count() === 0, "the spool to drain");
  await forwarder.stop();
}

Deno.test("DecryptingForwarder forwards untouched until the relay is allowed, then sends bundles", async () => {
  await using harness = await setUp();
  let forwarder = await forwarderFor(harness);
  for (const seq of [1, 2, 3]) await spool(harness, await sealed(harness, seq));
  await drain(harness, forwarder);
  // Passed-through messages go up concurrently: each exactly once, in any order.
  assert.deepEqual([...harness.parent.single].sort((a, b) => a - b), [1, 2, 3]);
  assert.equal(forwarder.stats().passedThrough, 3);
  assert.equal(forwarder.stats().bundlesSent, 0);
  assert.equal((await RelayIdentity.open(harness.relayDir)).computerId, RELAY_ID);

  harness.parent.allowRelay = true;
  forwarder = await forwarderFor(harness); // a new one: the old one paused bundling for 30 s
  for (const seq of [4, 5, 6]) await spool(harness, await sealed(harness, seq));
  await drain(harness, forwarder);
  assert.deepEqual(harness.parent.bundled, [4, 5, 6]);
  assert.equal(harness.parent.bundles, 1);
  const stats = forwarder.stats();
  assert.deepEqual([stats.bundlesSent, stats.reportsBundled, stats.passedThrough], [1, 3, 0]);
});

Deno.test("DecryptingForwarder passes through what it cannot vouch for, and keeps everything while the parent is down", async () => {
  await using harness = await setUp();
  harness.parent.allowRelay = true;
  const forwarder = await forwarderFor(harness);
  // Clear text, and an envelope whose sender signature does not verify, go untouched: the
  // server judges them (here it refuses the second, which moves to rejected/).
  await spool(
    harness,
    await signReport(harness.client.privateKey, { cid: CLIENT_ID, seq: 1, kid: null }, report(1)),
  );
  const tampered = await sealed(harness, 2);
  tampered.sig = tampered.sig.replace(/^./, (c) => c === "A" ? "B" : "A");
  await spool(harness, tampered);
  for (const seq of [3, 4]) await spool(harness, await sealed(harness, seq));

  harness.parent.up = false;
  forwarder.start();
  await waitUntil(
    () => forwarder.stats().failures >= 2,
    "failed attempts while the parent is down",
  );
  assert.equal(harness.spool.count(), 4, "nothing is lost while the parent is down");

  harness.parent.up = true;
  await waitUntil(() => harness.spool.count() === 0, "the spool to drain");
  await forwarder.stop();
  assert.deepEqual(harness.parent.single, [1]);
  assert.deepEqual(harness.parent.bundled, [3, 4]);
  const stats = forwarder.stats();
  assert.equal(stats.rejected, 1, JSON.stringify(stats));
  assert.equal((await harness.spool.listRejected()).length, 1);
});

Deno.test("DecryptingForwarder never decrypts with a key the site retired, even with its file at hand", async () => {
  await using harness = await setUp();
  harness.parent.allowRelay = true;
  const retired = new Set<string>();
  let forwarder = await forwarderFor(harness, retired);
  await spool(harness, await sealed(harness, 1));
  await drain(harness, forwarder);
  assert.deepEqual(harness.parent.bundled, [1], "decrypted and bundled while current");

  retired.add(harness.kid);
  forwarder = await forwarderFor(harness, retired);
  for (const seq of [2, 3]) await spool(harness, await sealed(harness, seq));
  await drain(harness, forwarder);
  assert.deepEqual(harness.parent.bundled, [1], "nothing more was decrypted");
  assert.deepEqual([...harness.parent.single].sort((a, b) => a - b), [2, 3]);
  assert.equal(forwarder.stats().passedThrough, 2);
  assert.equal(forwarder.stats().reportsBundled, 0);
});
