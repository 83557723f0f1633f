/**
 * The spool's segments through the spool itself: group commit, torn tails after a crash, done
 * marks, and segments deleted once delivered.
 */

import assert from "node:assert/strict";
import { joinPath } from "../keystore/secure_file.ts";
import { Spool } from "./spool.ts";
import { withTempDir } from "./_test_utils.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const withDataDir = (body: (dataDir: string) => Promise<void>) =>
  withTempDir("mle-relay-segments-", body);

function segmentNames(spool: Spool): string[] {
  return [...Deno.readDirSync(spool.dir)].map((entry) => entry.name)
    .filter((name) => name.endsWith(".segment")).sort();
}

Deno.test("Spool.put(): concurrent puts share one write and fsync, and every one is on disk when it resolves", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const texts = Array.from({ length: 40 }, (_, i) => `{"n":${i}}`);
    const ids = await Promise.all(texts.map((text) => spool.put(encoder.encode(text))));
    assert.equal(spool.groupsCommitted, 1, "forty puts begun together made one group");
    // Sequential puts each wait for their own group.
    await spool.put(encoder.encode("later"));
    assert.equal(spool.groupsCommitted, 2);
    await spool.close();
    const reopened = await Spool.open(dataDir);
    assert.deepEqual(reopened.list().slice(0, 40), ids);
    assert.deepEqual(
      await Promise.all(ids.map(async (id) => decoder.decode(await reopened.read(id)))),
      texts,
    );
    await reopened.close();
  });
});

Deno.test("Spool.open() drops a torn last group, keeps every whole record, and appends to a new segment", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const a = await spool.put(encoder.encode("first"));
    const b = await spool.put(encoder.encode("second"));
    await spool.put(encoder.encode("third, cut by a crash"));
    await spool.close();
    const [segment] = segmentNames(spool);
    const path = joinPath(spool.dir, segment);
    const size = (await Deno.stat(path)).size;
    // A crash in the middle of the last group's write: its end never reached the disk.
    await Deno.truncate(path, size - 7);
    const reopened = await Spool.open(dataDir);
    assert.deepEqual(reopened.list(), [a, b]);
    const kept = (await Deno.stat(path)).size;
    assert.ok(kept < size - 7, "the file was cut back to its whole records");
    assert.equal(reopened.droppedBytes, size - 7 - kept);
    assert.equal(decoder.decode(await reopened.read(b)), "second");
    const d = await reopened.put(encoder.encode("after the crash"));
    assert.equal(segmentNames(reopened).length, 2, "a segment found on open is never appended to");
    await reopened.close();
    const again = await Spool.open(dataDir);
    assert.deepEqual(again.list(), [a, b, d]);
    assert.equal(again.droppedBytes, 0, "the torn tail was cut off the file");
    await again.close();
  });
});

Deno.test("Spool.open() drops a damaged record and what follows it, never reading past a bad checksum", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const a = await spool.put(encoder.encode("kept"));
    await spool.put(encoder.encode("damaged"));
    await spool.close();
    const path = joinPath(spool.dir, segmentNames(spool)[0]);
    const bytes = await Deno.readFile(path);
    const at = new TextDecoder().decode(bytes).indexOf("damaged");
    await Deno.writeFile(path, bytes.with(at, "D".charCodeAt(0)));
    const reopened = await Spool.open(dataDir);
    assert.deepEqual(reopened.list(), [a]);
    await reopened.close();
  });
});

Deno.test("Spool: delivered messages stay delivered after a restart, and emptied segments are deleted", async () => {
  await withDataDir(async (dataDir) => {
    // Tiny segments: every group begins a new one.
    const tuning = { segmentMaxBytes: 1 };
    const spool = await Spool.open(dataDir, {}, tuning);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await spool.put(encoder.encode(`message ${i}`)));
    assert.equal(segmentNames(spool).length, 5);
    await spool.remove(ids[1]);
    await spool.remove(ids[0]);
    await spool.reject(ids[2], "parent answered 400 ERR_REPORT_INVALID");
    assert.deepEqual(segmentNames(spool), [`${ids[3]}.segment`, `${ids[4]}.segment`]);
    await spool.close();

    const reopened = await Spool.open(dataDir, {}, tuning);
    assert.deepEqual(reopened.list(), [ids[3], ids[4]], "removed and rejected ones do not return");
    assert.deepEqual(await reopened.listRejected(), [ids[2]]);
    assert.equal(
      await Deno.readTextFile(joinPath(reopened.rejectedDir, `${ids[2]}.json`)),
      "message 2",
    );
    await reopened.remove(ids[3]);
    await reopened.close();
    // A segment's done list survives a restart without its messages being sent again.
    const third = await Spool.open(dataDir, {}, tuning);
    assert.deepEqual(third.list(), [ids[4]]);
    await third.remove(ids[4]);
    await third.close();
    const last = await Spool.open(dataDir, {}, tuning);
    assert.equal(last.count(), 0);
    assert.deepEqual([...Deno.readDirSync(last.dir)], [], "no segment or done list is left");
    await last.close();
  });
});

Deno.test("Spool reads a data dir of the old layout, one file per message, and delivers it before newer messages", async () => {
  await withDataDir(async (dataDir) => {
    const spoolDir = joinPath(dataDir, "spool");
    await Deno.mkdir(spoolDir, { mode: 0o700 });
    const old = ["0001700000000000-000000-0000000a", "0001700000000000-000001-0000000b"];
    await Deno.writeTextFile(joinPath(spoolDir, `${old[0]}.json`), "old one");
    await Deno.writeTextFile(joinPath(spoolDir, `${old[1]}.json`), "old two");
    const spool = await Spool.open(dataDir);
    const fresh = await spool.put(encoder.encode("new"));
    assert.deepEqual(spool.list(), [...old, fresh]);
    assert.equal(spool.bytes(), 7 + 7 + 3);
    assert.equal(decoder.decode(await spool.read(old[0])), "old one");
    await spool.remove(old[0]);
    await spool.reject(old[1], "parent answered 403 ERR_UNKNOWN_COMPUTER");
    await assert.rejects(Deno.stat(joinPath(spoolDir, `${old[0]}.json`)), Deno.errors.NotFound);
    assert.equal(
      await Deno.readTextFile(joinPath(spool.rejectedDir, `${old[1]}.json`)),
      "old two",
    );
    await spool.close();
    const reopened = await Spool.open(dataDir);
    assert.deepEqual(reopened.list(), [fresh]);
    await reopened.close();
  });
});

Deno.test("Spool: messages removed together empty their segment at once, leaving no done list behind", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir, {}, { segmentMaxBytes: 1 });
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) => spool.put(encoder.encode(`{"n":${i}}`))),
    );
    // The next group begins a new segment, so the first one may go once empty.
    const later = await spool.put(encoder.encode("later"));
    await Promise.all(ids.map((id) => spool.remove(id)));
    assert.deepEqual(
      [...Deno.readDirSync(spool.dir)].map((entry) => entry.name).sort(),
      [`${later}.segment`],
      "the emptied segment and its done list are gone",
    );
    assert.deepEqual(spool.list(), [later]);
    await spool.close();
    const reopened = await Spool.open(dataDir);
    assert.deepEqual(reopened.list(), [later]);
    await reopened.close();
  });
});
