import assert from "node:assert/strict";
import { pathExists } from "./path_exists.ts";

Deno.test("pathExists() tells a file, a folder and a dangling link from nothing", async () => {
  const root = await Deno.makeTempDir({ prefix: "mle-path-exists-" });
  try {
    await Deno.writeTextFile(`${root}/file`, "x");
    await Deno.symlink(`${root}/gone`, `${root}/dangling`);
    assert.equal(await pathExists(`${root}/file`), true);
    assert.equal(await pathExists(root), true);
    assert.equal(await pathExists(`${root}/dangling`), true);
    assert.equal(await pathExists(`${root}/gone`), false);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
