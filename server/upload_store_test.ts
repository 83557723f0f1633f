import assert from "node:assert/strict";
import { ensureRealDir, UploadFiles } from "./upload_store.ts";

const UID = "00112233445566778899aabbccddeeff";

Deno.test("UploadFiles.place() links the finished file under a free name and never through a link", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = new UploadFiles(dir);
    await files.init();
    await files.createIncoming(3, UID, new TextEncoder().encode("{}"));
    const partial = await files.openPartial(3, UID);
    await partial.write(new TextEncoder().encode("content"));
    partial.close();
    await Deno.mkdir(`${dir}/uploads/3`);
    await Deno.writeTextFile(`${dir}/outside`, "original");
    await Deno.symlink(`${dir}/outside`, `${dir}/uploads/3/app.log`);
    const chosen: string[] = [];
    const name = await files.place(3, UID, "app.log", null, (candidate) => {
      chosen.push(candidate);
      return Promise.resolve();
    });
    assert.equal(name, "app (2).log");
    assert.deepEqual(chosen, ["app (2).log"]);
    assert.equal(await Deno.readTextFile(`${dir}/uploads/3/app (2).log`), "content");
    assert.equal(await Deno.readTextFile(`${dir}/outside`), "original");
    // After a crash between the link and the record, placing again keeps the same name.
    assert.equal(await files.place(3, UID, "app.log", name, () => Promise.resolve()), name);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ensureRealDir() refuses a link where a folder should be", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/elsewhere`);
    await Deno.symlink(`${dir}/elsewhere`, `${dir}/linked`);
    await assert.rejects(ensureRealDir(`${dir}/linked`), /expected a folder/);
    await ensureRealDir(`${dir}/fresh`);
    assert.ok((await Deno.lstat(`${dir}/fresh`)).isDirectory);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
