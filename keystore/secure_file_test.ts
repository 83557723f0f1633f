import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import { testInTemporaryDir } from "../tests/temp_dir.ts";
import {
  createSecretFile,
  ensurePrivateDir,
  joinPath,
  pathExists,
  readSecretFile,
  replaceFileAtomically,
} from "./secure_file.ts";

testInTemporaryDir("createSecretFile() makes a 0600 file and never overwrites one", async (dir) => {
  const path = `${dir}/key.pvk`;
  await createSecretFile(path, "one");
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  await assert.rejects(
    () => createSecretFile(path, "two"),
    (error) => error instanceof MleError && error.code === "ERR_KEY_FILE_EXISTS",
  );
  assert.equal(await Deno.readTextFile(path), "one");
});

testInTemporaryDir(
  "readSecretFile() refuses a key others can read, saying how to fix it, and a link",
  async (dir) => {
    const path = `${dir}/key.pvk`;
    await createSecretFile(path, "secret");
    await Deno.chmod(path, 0o644);
    await assert.rejects(
      () => readSecretFile(path),
      (error) =>
        error instanceof MleError && error.code === "ERR_SECRET_FILE_INSECURE" &&
        error.message.includes(`chmod 600 "${path}"`),
    );
    await Deno.chmod(path, 0o600);
    assert.equal(new TextDecoder().decode(await readSecretFile(path)), "secret");
    await Deno.symlink(path, `${dir}/link.pvk`);
    await assert.rejects(
      () => readSecretFile(`${dir}/link.pvk`),
      (error) => error instanceof MleError && error.code === "ERR_SECRET_FILE_INSECURE",
    );
  },
);

testInTemporaryDir(
  "replaceFileAtomically() replaces content and leaves no temporary file; ensurePrivateDir() makes 0700",
  async (dir) => {
    const folder = joinPath(dir, "a", "b");
    await ensurePrivateDir(folder);
    assert.equal((await Deno.stat(folder)).mode! & 0o777, 0o700);
    const path = joinPath(folder, "state.json");
    await replaceFileAtomically(path, "1");
    await replaceFileAtomically(path, "2");
    assert.equal(await Deno.readTextFile(path), "2");
    const names = (await Array.fromAsync(Deno.readDir(folder))).map((e) => e.name);
    assert.deepEqual(names, ["state.json"]);
  },
);

testInTemporaryDir(
  "pathExists() tells a file, a folder and a dangling link from nothing",
  async (root) => {
    await Deno.writeTextFile(`${root}/file`, "x");
    await Deno.symlink(`${root}/gone`, `${root}/dangling`);
    assert.equal(await pathExists(`${root}/file`), true);
    assert.equal(await pathExists(root), true);
    assert.equal(await pathExists(`${root}/dangling`), true);
    assert.equal(await pathExists(`${root}/gone`), false);
  },
);
