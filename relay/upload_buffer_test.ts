import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { signUploadManifest } from "../envelope/upload_manifest.ts";
import { UploadBuffer } from "./upload_buffer.ts";

const UID = "00112233445566778899aabbccddeeff";
const claims = { cid: 4, uid: UID, cs: 1024, cc: 3, kid: null };
const FULL = 1024 + 64;

async function manifestBytes(): Promise<Uint8Array<ArrayBuffer>> {
  const pair = await generateSigningKeyPair();
  const jws = await signUploadManifest(pair.privateKey, claims, new TextEncoder().encode("{}"));
  return new TextEncoder().encode(JSON.stringify(jws));
}

function chunk(length: number, fill: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(length).fill(fill);
}

Deno.test("UploadBuffer keeps chunks within its maximum size, refuses room beyond it, and frees it as they go", async () => {
  const dir = await Deno.makeTempDir();
  const buffer = await UploadBuffer.open(dir, { maxBytes: 3000 });
  try {
    const manifest = await manifestBytes();
    const { kind, upload } = await buffer.putManifest(manifest, claims);
    assert.equal(kind, "stored");
    assert.equal((await buffer.putManifest(manifest, claims)).kind, "exists");
    assert.equal((await buffer.putManifest(new Uint8Array([1, 2]), claims)).kind, "conflict");
    assert.ok(buffer.reserve(FULL));
    assert.equal(buffer.putChunk(upload!, 0, chunk(FULL, 1)), true);
    buffer.release(FULL);
    assert.equal(
      buffer.putChunk(upload!, 0, chunk(FULL, 9)),
      false,
      "a chunk already here is kept",
    );
    assert.ok(buffer.reserve(FULL));
    buffer.putChunk(upload!, 1, chunk(FULL, 2));
    buffer.release(FULL);
    assert.equal(buffer.reserve(FULL), false, "the buffer would pass its maximum");
    assert.ok(buffer.bytes <= 3000);
    assert.deepEqual(buffer.readChunk(upload!, 0), chunk(FULL, 1));
    assert.deepEqual(buffer.readChunk(upload!, 1), chunk(FULL, 2));
    buffer.removeChunk(upload!, 0);
    assert.ok(buffer.reserve(FULL), "a forwarded chunk's room comes back");
    assert.throws(() => buffer.readChunk(upload!, 0), Deno.errors.NotFound);
  } finally {
    buffer.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("UploadBuffer.open() finds what a previous run left and ignores a record a crash cut short", async () => {
  const dir = await Deno.makeTempDir();
  const first = await UploadBuffer.open(dir, { maxBytes: 1 << 20 });
  const { upload } = await first.putManifest(await manifestBytes(), claims);
  first.putChunk(upload!, 0, chunk(FULL, 1));
  first.putChunk(upload!, 2, chunk(100, 3));
  await first.setManifestDelivered(upload!, true);
  first.close();
  const folder = `${dir}/uploads/4-${UID}`;
  const [segment] = (await Array.fromAsync(Deno.readDir(folder)))
    .filter((entry) => entry.name.endsWith(".segment")).map((entry) => entry.name);
  // A crash in the middle of the next record: its header and half its body.
  const cut = new Uint8Array(8 + 500);
  new DataView(cut.buffer).setUint32(0, 1);
  new DataView(cut.buffer).setUint32(4, FULL);
  await Deno.writeFile(`${folder}/${segment}`, cut, { append: true });
  await Deno.mkdir(`${dir}/uploads/5-${UID}`); // no manifest: an unfinished put

  const second = await UploadBuffer.open(dir, { maxBytes: 1 << 20 });
  try {
    const again = second.get(4, UID)!;
    assert.deepEqual([...again.chunks.keys()], [0, 2]);
    assert.deepEqual(second.readChunk(again, 2), chunk(100, 3));
    assert.equal(again.manifestDelivered, true);
    assert.equal(second.get(5, UID), undefined);
    await assert.rejects(Deno.lstat(`${dir}/uploads/5-${UID}`), Deno.errors.NotFound);
    second.putChunk(again, 1, chunk(FULL, 2));
    assert.deepEqual(second.readChunk(again, 1), chunk(FULL, 2));

    await second.refuse(again, { status: 413, code: "ERR_UPLOAD_QUOTA_EXCEEDED", message: "full" });
    assert.equal(again.chunks.size, 0);
    const left = (await Array.fromAsync(Deno.readDir(folder))).map((entry) => entry.name).sort();
    assert.deepEqual(left, ["manifest.json", "state.json"]);
  } finally {
    second.close();
  }
  const third = await UploadBuffer.open(dir, { maxBytes: 1 << 20 });
  try {
    assert.equal(third.get(4, UID)?.refused?.code, "ERR_UPLOAD_QUOTA_EXCEEDED");
  } finally {
    third.close();
    await Deno.remove(dir, { recursive: true });
  }
});
