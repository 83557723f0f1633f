import assert from "node:assert/strict";
import { testInTemporaryDir } from "../tests/temp_dir.ts";
import { openRotatingLogFile } from "./rotating_log_file.ts";

testInTemporaryDir(
  "openRotatingLogFile() rotates before a file passes its size and keeps only `keep` older files",
  (dir) => {
    const path = `${dir}/x.log`;
    const file = openRotatingLogFile(path, { maxBytes: 1024, keep: 2 });
    for (let i = 0; i < 200; i++) {
      file.write(`line ${String(i).padStart(3, "0")} ${"x".repeat(50)}`);
    }
    file.close();
    const names = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(names, ["x.log", "x.log.1", "x.log.2"]);
    for (const name of names) {
      const info = Deno.statSync(`${dir}/${name}`);
      assert.ok(info.size <= 1024, `${name}: ${info.size}`);
      if (Deno.build.os !== "windows") assert.equal(info.mode! & 0o777, 0o600, name);
    }
    // Newest last in the current file, the one before in .1: nothing is out of order.
    const current = Deno.readTextFileSync(path).trim().split("\n");
    assert.match(current.at(-1)!, /^line 199 /);
    const previous = Deno.readTextFileSync(`${path}.1`).trim().split("\n");
    const lastBefore = Number(/^line (\d+)/.exec(previous.at(-1)!)![1]);
    assert.equal(lastBefore + 1, Number(/^line (\d+)/.exec(current[0])![1]));
  },
);

testInTemporaryDir(
  "openRotatingLogFile() appends to an existing file and refuses unusable bounds",
  async (dir) => {
    const path = `${dir}/x.log`;
    await Deno.writeTextFile(path, "before\n");
    const file = openRotatingLogFile(path, { maxBytes: 4096, keep: 1 });
    file.write("after");
    file.close();
    assert.equal(await Deno.readTextFile(path), "before\nafter\n");
    assert.throws(() => openRotatingLogFile(path, { maxBytes: 10, keep: 1 }), RangeError);
    assert.throws(() => openRotatingLogFile(path, { maxBytes: 4096, keep: 101 }), RangeError);
  },
);
