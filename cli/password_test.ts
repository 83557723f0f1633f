import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import { CliError } from "./output.ts";
import { MAX_PASSWORD_FILE_BYTES, readPassword, readPasswordFile } from "./password.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mle-password-test-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function writeFile(path: string, text: string, mode: number): Promise<string> {
  await Deno.writeTextFile(path, text, { mode });
  await Deno.chmod(path, mode);
  return path;
}

const noPrompt = { prompt: "unused: ", warn: () => {} };

Deno.test({
  name: "readPasswordFile() refuses a file others can access with the one error naming chmod 600",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withDir(async (dir) => {
      for (const mode of [0o644, 0o640, 0o604, 0o660]) {
        const path = await writeFile(`${dir}/password-${mode.toString(8)}`, "pw\n", mode);
        await assert.rejects(readPasswordFile(path), (error) => {
          assert.ok(error instanceof MleError);
          assert.equal(error.code, "ERR_SECRET_FILE_INSECURE");
          assert.equal(
            error.message,
            `Cannot read password file "${path}": others can access it (mode ${
              mode.toString(8)
            }); run: chmod 600 "${path}"`,
          );
          return true;
        });
        // readPassword gives the same error for its file source.
        await assert.rejects(readPassword({ ...noPrompt, file: path }), /chmod 600/);
      }
      const owned = await writeFile(`${dir}/owned`, "first line\nsecond\n", 0o600);
      assert.equal(await readPasswordFile(owned), "first line");
      assert.equal(await readPassword({ ...noPrompt, file: owned }), "first line");
      await writeFile(`${dir}/read-only`, "ro\n", 0o400);
      assert.equal(await readPasswordFile(`${dir}/read-only`), "ro");
    });
  },
});

Deno.test({
  name: "readPasswordFile() refuses a link, a folder, an empty file and a huge one",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await withDir(async (dir) => {
      const owned = await writeFile(`${dir}/owned`, "pw\n", 0o600);
      await Deno.symlink(owned, `${dir}/link`);
      for (const path of [`${dir}/link`, dir]) {
        await assert.rejects(
          readPasswordFile(path),
          (error) => error instanceof MleError && error.code === "ERR_SECRET_FILE_INSECURE",
        );
      }
      const empty = await writeFile(`${dir}/empty`, "\nsecond\n", 0o600);
      await assert.rejects(
        readPasswordFile(empty),
        (error) =>
          error instanceof CliError && error.exitCode === 2 && /is empty/.test(error.message),
      );
      const huge = await writeFile(`${dir}/huge`, "x".repeat(MAX_PASSWORD_FILE_BYTES + 1), 0o600);
      await assert.rejects(readPasswordFile(huge), /larger than/);
    });
  },
});

Deno.test("readPassword() takes the environment variable out of the environment when it reads it", async () => {
  Deno.env.set("MLE_TEST_SITE_PASSWORD", "from the environment");
  const password = await readPassword({ ...noPrompt, envName: "MLE_TEST_SITE_PASSWORD" });
  assert.equal(password, "from the environment");
  assert.equal(Deno.env.get("MLE_TEST_SITE_PASSWORD"), undefined);
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "console.log(Deno.env.get('MLE_TEST_SITE_PASSWORD') ?? 'absent')"],
    stdout: "piped",
    stderr: "null",
  }).output();
  assert.equal(new TextDecoder().decode(child.stdout).trim(), "absent");
});
