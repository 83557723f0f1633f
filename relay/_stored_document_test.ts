import assert from "node:assert/strict";
import type { Logger } from "../cli/log.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { readStoredDocument } from "./_stored_document.ts";

Deno.test("readStoredDocument() gives the kept JSON, and nothing for a missing or damaged file", async () => {
  const dir = await Deno.makeTempDir();
  const warned: string[] = [];
  const log = { warn: (message: string) => warned.push(message) } as unknown as Logger;
  try {
    const path = joinPath(dir, "revocations.json");
    assert.equal(await readStoredDocument(path, log, "revocation list"), undefined);
    assert.deepEqual(warned, []);
    await Deno.writeTextFile(path, '{"serial":3}');
    assert.deepEqual(await readStoredDocument(path, log, "revocation list"), { serial: 3 });
    await Deno.writeTextFile(path, "{torn");
    assert.equal(await readStoredDocument(path, log, "revocation list"), undefined);
    assert.deepEqual(warned, ["ignored the stored revocation list: not JSON"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
