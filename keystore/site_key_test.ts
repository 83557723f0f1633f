import assert from "node:assert/strict";
import { MleError } from "../envelope/errors.ts";
import { signBytes, verifyBytes } from "../envelope/signature.ts";
import { testInTemporaryDir } from "../tests/temp_dir.ts";
import { MIN_PBKDF2_ITERATIONS } from "./password_seal.ts";
import { createSiteKeyFile, openSiteKeyFile } from "./site_key.ts";

/** A site key file created in `dir` with `password`: its path and its text. */
async function siteKeyFileIn(
  dir: string,
  password: string,
): Promise<{ path: string; text: string }> {
  const path = `${dir}/license.pvk`;
  await createSiteKeyFile(path, password);
  return { path, text: await Deno.readTextFile(path) };
}

/** Opening the site key file at `path` with `password` is refused with `code`. */
async function refusesToOpen(path: string, password: string, code: string): Promise<void> {
  await assert.rejects(
    () => openSiteKeyFile(path, password),
    (error) => error instanceof MleError && error.code === code,
  );
}

testInTemporaryDir(
  "createSiteKeyFile() writes a 0600 file sealed with PBKDF2 ≥ 600,000 iterations that opens with its password",
  async (dir) => {
    const path = `${dir}/license.pvk`;
    const created = await createSiteKeyFile(path, "pw-1");
    const info = await Deno.stat(path);
    assert.equal(info.mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(path);
    assert.match(text, /^# created: /m);
    assert.match(text, new RegExp(`^# public key: ${created.publicKeyText}$`, "m"));
    const sealed = JSON.parse(text.split("\n").find((l) => l.startsWith("{"))!);
    assert.ok(sealed.kdf.iterations >= MIN_PBKDF2_ITERATIONS);
    assert.equal(sealed.cipher.name, "AES-256-GCM");

    const opened = await openSiteKeyFile(path, "pw-1");
    const data = new TextEncoder().encode("masthead");
    assert.ok(await verifyBytes(created.publicKey, await signBytes(opened.privateKey, data), data));
  },
);

testInTemporaryDir(
  "openSiteKeyFile() refuses a wrong password with one clear error, changes nothing, and a retry works",
  async (dir) => {
    const { path, text: before } = await siteKeyFileIn(dir, "right");
    await refusesToOpen(path, "wrong", "ERR_WRONG_PASSWORD");
    assert.equal(await Deno.readTextFile(path), before);
    await openSiteKeyFile(path, "right");
  },
);

testInTemporaryDir(
  "openSiteKeyFile() refuses a file whose iteration count or public key was altered",
  async (dir) => {
    const { path, text } = await siteKeyFileIn(dir, "right");
    const lowered = text.replace(/"iterations":\d+/, `"iterations":${MIN_PBKDF2_ITERATIONS + 1}`);
    await Deno.writeTextFile(path, lowered);
    await refusesToOpen(path, "right", "ERR_WRONG_PASSWORD");
    await Deno.writeTextFile(path, text.replace(/"iterations":\d+/, `"iterations":1000`));
    await refusesToOpen(path, "right", "ERR_KEY_INVALID");
  },
);
