import assert from "node:assert/strict";
import { joinPath } from "../keystore/secure_file.ts";
import { Spool, SpoolFullError } from "./spool.ts";
import { createMessageFactory, withTempDir } from "./_test_utils.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const IS_WINDOWS = Deno.build.os === "windows";

const withDataDir = (body: (dataDir: string) => Promise<void>) =>
  withTempDir("mle-relay-spool-", body);

Deno.test("Spool.put() stores the exact bytes durably in a segment, files 0600 in folders 0700", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const bytes = encoder.encode('{"protected":"x",  "payload":"y"}\n');
    const id = await spool.put(bytes);
    assert.deepEqual(spool.list(), [id]);
    assert.ok(spool.has(id));
    assert.deepEqual(await spool.read(id), bytes);
    assert.equal(spool.count(), 1);
    assert.equal(spool.bytes(), bytes.length);
    const files = [...Deno.readDirSync(spool.dir)].map((entry) => entry.name);
    assert.deepEqual(files, [`${id}.segment`], "one segment, named after its first message");
    const segment = await Deno.readFile(joinPath(spool.dir, `${id}.segment`));
    assert.ok(
      new TextDecoder().decode(segment).includes(decoder.decode(bytes)),
      "the message's exact bytes are in the segment",
    );
    if (!IS_WINDOWS) {
      assert.equal(Deno.statSync(joinPath(spool.dir, `${id}.segment`)).mode! & 0o777, 0o600);
      assert.equal(Deno.statSync(spool.dir).mode! & 0o777, 0o700);
      assert.equal(Deno.statSync(spool.rejectedDir).mode! & 0o777, 0o700);
    }
  });
});

Deno.test("Spool.list() gives the oldest first, also for puts in the same millisecond", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const sequential: string[] = [];
    for (let i = 0; i < 30; i++) sequential.push(await spool.put(encoder.encode(`${i}`)));
    assert.deepEqual(spool.list(), sequential);
    const concurrent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => spool.put(encoder.encode(`c${i}`))),
    );
    const all = spool.list();
    assert.equal(new Set(all).size, 60, "ids are unique");
    assert.deepEqual(all, [...all].sort(), "the index stays sorted when puts finish out of order");
    assert.deepEqual(all.slice(30), concurrent, "ids follow the order the puts began in");
    assert.deepEqual(spool.list(3), sequential.slice(0, 3));
    assert.equal(decoder.decode(await spool.read(all[0])), "0");
  });
});

Deno.test("Spool.open() finds the messages of an earlier run, and new ids sort after them", async () => {
  await withDataDir(async (dataDir) => {
    const first = await Spool.open(dataDir);
    const a = await first.put(encoder.encode("aa"));
    const b = await first.put(encoder.encode("bbb"));
    const reopened = await Spool.open(dataDir);
    assert.deepEqual(reopened.list(), [a, b]);
    assert.equal(reopened.bytes(), 5);
    const c = await reopened.put(encoder.encode("c"));
    assert.deepEqual(reopened.list(), [a, b, c]);
  });
});

Deno.test("Spool.open() deletes temporary files a crash left and ignores foreign files", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const id = await spool.put(encoder.encode("kept"));
    // What a crash between create and rename leaves: never acknowledged, so nobody is owed it.
    const torn = joinPath(
      spool.dir,
      `9999999999999999-000000-00000000.json.tmp-${crypto.randomUUID()}`,
    );
    await Deno.writeTextFile(torn, '{"half":');
    await Deno.writeTextFile(joinPath(spool.dir, "README.txt"), "not a message");
    const reopened = await Spool.open(dataDir);
    assert.deepEqual(reopened.list(), [id]);
    await assert.rejects(Deno.stat(torn), Deno.errors.NotFound);
    assert.ok((await Deno.stat(joinPath(spool.dir, "README.txt"))).isFile);
  });
});

Deno.test("Spool.remove() deletes a message and tolerates a second removal", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const a = await spool.put(encoder.encode("a"));
    const b = await spool.put(encoder.encode("bb"));
    await spool.remove(a);
    await spool.remove(a);
    assert.deepEqual(spool.list(), [b]);
    assert.equal(spool.bytes(), 2);
    await assert.rejects(spool.read(a), Deno.errors.NotFound);
    assert.deepEqual((await Spool.open(dataDir)).list(), [b]);
  });
});

Deno.test("Spool.reject() moves a message to rejected/ with its reason beside it", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    const id = await spool.put(encoder.encode("refused"));
    const other = await spool.put(encoder.encode("fine"));
    await spool.reject(id, "parent answered 400 ERR_REPORT_INVALID:\nbad\r\nreport");
    assert.deepEqual(spool.list(), [other]);
    assert.deepEqual(await spool.listRejected(), [id]);
    const moved = await Deno.readTextFile(joinPath(spool.rejectedDir, `${id}.json`));
    assert.equal(moved, "refused");
    const reason = await Deno.readTextFile(joinPath(spool.rejectedDir, `${id}.reason`));
    assert.match(
      reason,
      /^\d{4}-\d\d-\d\dT.* parent answered 400 ERR_REPORT_INVALID: bad report\n$/,
    );
    assert.deepEqual((await Spool.open(dataDir)).list(), [other], "a reopen does not resend it");
  });
});

Deno.test("Spool refuses ids that are not its own (no path traversal)", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir);
    for (const id of ["../relay.lock", "", "0000000000000001-000000-zzzzzzzz", "a/b"]) {
      await assert.rejects(spool.read(id), RangeError);
      await assert.rejects(spool.remove(id), RangeError);
      await assert.rejects(spool.reject(id, "x"), RangeError);
    }
  });
});

Deno.test("Spool.put() refuses past the maximum size and a sender's share, also when puts race, and counts a reopened spool's senders", async () => {
  const messages = await createMessageFactory();
  await withDataDir(async (dataDir) => {
    const one = encoder.encode(await messages.clear(7, 1));
    const size = one.length;
    const limits = { maxBytes: size * 5, maxBytesPerComputer: size * 2 };
    const spool = await Spool.open(dataDir, limits);
    const raced = await Promise.allSettled(
      Array.from(
        { length: 4 },
        async (_, i) => await spool.put(encoder.encode(await messages.clear(7, i + 1)), 7),
      ),
    );
    assert.equal(raced.filter((result) => result.status === "fulfilled").length, 2);
    for (const result of raced.filter((result) => result.status === "rejected")) {
      assert.ok(result.reason instanceof SpoolFullError);
      assert.equal(result.reason.scope, "computer");
    }
    assert.equal(spool.bytesOf(7), size * 2);
    await spool.put(encoder.encode(await messages.clear(8, 1)), 8);
    await spool.put(encoder.encode(await messages.clear(8, 2)), 8);
    assert.equal(spool.isFull(size), false);
    await spool.put(encoder.encode(await messages.clear(9, 1)), 9);
    assert.ok(spool.isFull(size));
    await assert.rejects(
      spool.put(encoder.encode(await messages.clear(10, 1)), 10),
      (error: SpoolFullError) => error.scope === "spool",
    );
    assert.equal(spool.count(), 5, "nothing refused was written");

    const reopened = await Spool.open(dataDir, limits);
    assert.equal(reopened.bytesOf(7), size * 2, "the senders of a previous run are counted again");
    await assert.rejects(reopened.put(one, 7), SpoolFullError);
    await reopened.remove(reopened.list()[0]);
    assert.equal(reopened.bytesOf(7), size);
    await reopened.put(encoder.encode(await messages.clear(7, 3)), 7);
  });
});

Deno.test("Spool.pruneRejected() deletes rejected messages past their age, and the oldest past the folder's size, reasons too", async () => {
  await withDataDir(async (dataDir) => {
    const spool = await Spool.open(dataDir, { rejectedMaxAgeMs: 60_000, rejectedMaxBytes: 250 });
    const ids = [];
    for (const text of ["a".repeat(60), "b".repeat(60), "c".repeat(60)]) {
      const id = await spool.put(encoder.encode(text));
      await spool.reject(id, "parent answered 400");
      ids.push(id);
    }
    // Three messages and reasons pass 250 bytes: the oldest went at once.
    assert.deepEqual(await spool.listRejected(), ids.slice(1));
    assert.ok(spool.rejectedBytes() <= 250);
    const names = [...Deno.readDirSync(spool.rejectedDir)].map((entry) => entry.name).sort();
    assert.deepEqual(names, ids.slice(1).flatMap((id) => [`${id}.json`, `${id}.reason`]));

    assert.equal(await spool.pruneRejected(Date.now() + 30_000), 0);
    const reopened = await Spool.open(dataDir, { rejectedMaxAgeMs: 60_000 });
    assert.equal(await reopened.pruneRejected(Date.now() + 61_000), 2);
    assert.deepEqual([...Deno.readDirSync(spool.rejectedDir)], []);
    assert.equal(reopened.rejectedBytes(), 0);
  });
});
