import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signUploadManifest } from "../envelope/upload_manifest.ts";
import { UploadBuffer } from "./upload_buffer.ts";

const UID = "00112233445566778899aabbccddeeff";
const claims = { cid: 4, uid: UID, cs: 1024, cc: 3, kid: null };

async function manifestBytes(): Promise<Uint8Array<ArrayBuffer>> {
  const pair = await generateSigningKeyPair();
  const jws = await signUploadManifest(pair.privateKey, claims, new TextEncoder().encode("{}"));
  return new TextEncoder().encode(JSON.stringify(jws));
}

Deno.test("UploadBuffer keeps chunks within its maximum size and refuses room beyond it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const buffer = await UploadBuffer.open(dir, { maxBytes: 3000 });
    const manifest = await manifestBytes();
    const { outcome, upload } = await buffer.putManifest(manifest, claims);
    assert.equal(outcome, "stored");
    assert.equal((await buffer.putManifest(manifest, claims)).outcome, "exists");
    assert.equal((await buffer.putManifest(new Uint8Array([1, 2]), claims)).outcome, "conflict");
    const chunk = new Uint8Array(1024 + 64);
    assert.ok(buffer.reserve(chunk.length));
    assert.equal(buffer.putChunk(upload!, 0, chunk), true);
    buffer.release(chunk.length);
    assert.equal(buffer.putChunk(upload!, 0, chunk), false, "a chunk already here is kept");
    assert.ok(buffer.reserve(chunk.length));
    buffer.putChunk(upload!, 1, chunk);
    buffer.release(chunk.length);
    assert.equal(buffer.reserve(chunk.length), false, "the buffer would pass its maximum");
    assert.ok(buffer.bytes <= 3000);
    buffer.removeChunk(upload!, 0);
    assert.ok(buffer.reserve(chunk.length));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UploadBuffer.open() finds what a previous run left and drops chunk files that cannot be right", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await UploadBuffer.open(dir, { maxBytes: 1 << 20 });
    const { upload } = await first.putManifest(await manifestBytes(), claims);
    first.putChunk(upload!, 0, new Uint8Array(1024 + 64));
    first.putChunk(upload!, 2, new Uint8Array(100));
    await first.setManifestDelivered(upload!, true);
    const folder = `${dir}/uploads/4-${UID}`;
    await Deno.writeFile(`${folder}/0000000001.chunk`, new Uint8Array(10)); // wrong size
    await Deno.writeFile(`${folder}/0000000000.chunk.tmp-x`, new Uint8Array(10)); // half-written
    await Deno.mkdir(`${dir}/uploads/5-${UID}`); // no manifest: an unfinished put

    const second = await UploadBuffer.open(dir, { maxBytes: 1 << 20 });
    const again = second.get(4, UID)!;
    assert.deepEqual([...again.chunks], [0, 2]);
    assert.equal(again.manifestDelivered, true);
    assert.equal(second.get(5, UID), undefined);
    await assert.rejects(Deno.lstat(`${folder}/0000000001.chunk`), Deno.errors.NotFound);
    await assert.rejects(Deno.lstat(`${dir}/uploads/5-${UID}`), Deno.errors.NotFound);

    await second.refuse(again, { status: 413, code: "ERR_UPLOAD_QUOTA_EXCEEDED", message: "full" });
    assert.equal(again.chunks.size, 0);
    const third = await UploadBuffer.open(dir, { maxBytes: 1 << 20 });
    assert.equal(third.get(4, UID)?.refused?.code, "ERR_UPLOAD_QUOTA_EXCEEDED");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
