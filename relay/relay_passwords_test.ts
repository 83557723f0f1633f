import assert from "node:assert/strict";
import { generateSigningKeyPair } from "../envelope/signature.ts";
import { derivePasswordKey, proveKeyExchange } from "../protocol/key_exchange.ts";
import { eventually } from "../tests/eventually.ts";
import { clientRegistration, withTempDir } from "./_test_utils.ts";
import {
  MAX_ONE_TIME_PASSWORDS,
  parseOneTimePasswords,
  RelayPasswords,
} from "./relay_passwords.ts";

const pair = await generateSigningKeyPair();
const registration = await clientRegistration(pair, "test");
/** A client's proof of `password` for the relay whose passwords these are. */
async function proofOf(passwords: RelayPasswords, password: string) {
  return await proveKeyExchange(registration, [await derivePasswordKey(password, passwords.salt)]);
}

const withDir = (body: (dir: string) => Promise<void>) => withTempDir("mle-relay-passwords-", body);

async function writeSecret(path: string, text: string): Promise<string> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return path;
}

/** The passwords of `dataDir` read from the one-time password `file`, once all are derived. */
async function readyOneTimePasswords(file: string, dataDir: string): Promise<RelayPasswords> {
  const passwords = await RelayPasswords.open({ oneTimePasswordsFile: file, dataDir });
  await passwords.ready();
  return passwords;
}

Deno.test("parseOneTimePasswords() ignores blanks, comments, surrounding spaces and repeats", () => {
  assert.deepEqual(parseOneTimePasswords("# comment\n\n  one  \r\ntwo\none\n"), ["one", "two"]);
});

Deno.test("RelayPasswords.match() accepts the shared password every time and refuses a wrong one", async () => {
  await withDir(async (dataDir) => {
    const passwords = await RelayPasswords.open({ sharedPassword: "shared secret", dataDir });
    for (let i = 0; i < 2; i++) {
      const match = await passwords.match(registration, await proofOf(passwords, "shared secret"));
      assert.equal(match.ok && match.kind, "shared password");
    }
    assert.deepEqual(await passwords.match(registration, await proofOf(passwords, "guess")), {
      ok: false,
      reason: "wrong",
    });
    const good = (await proofOf(passwords, "shared secret")).proofs[0];
    const mac = good.mac;
    for (
      const bad of [
        undefined,
        null,
        {},
        { proof: mac },
        { proofs: "x" },
        { proofs: [{ ...good, mac: mac.replace(/^./, mac[0] === "A" ? "B" : "A") }] },
        { proofs: [{ ...good, salt: "A".repeat(22) }] },
        { proofs: [{ ...good, id: "!!" }] },
        { proofs: [{ ...good, mac: `${mac}A` }] },
        { proofs: [{ ...good, id: good.mac }] },
      ]
    ) {
      assert.deepEqual(await passwords.match(registration, bad), { ok: false, reason: "wrong" });
    }
  });
});

Deno.test("RelayPasswords.match() consumes a one-time password once, even when many race, and release() gives it back", async () => {
  await withDir(async (dataDir) => {
    const file = await writeSecret(`${dataDir}/otp.txt`, "first-one-time\nsecond-one-time\n");
    const passwords = await readyOneTimePasswords(file, dataDir);
    const proof = await proofOf(passwords, "first-one-time");
    const matches = await Promise.all(
      Array.from({ length: 8 }, () => passwords.match(registration, proof)),
    );
    const winners = matches.filter((match) => match.ok);
    assert.equal(winners.length, 1);
    assert.ok(matches.filter((m) => !m.ok).every((m) => !m.ok && m.reason === "used"));

    if (winners[0].ok) await winners[0].release();
    const again = await passwords.match(registration, proof);
    assert.equal(again.ok && again.kind, "one-time password");
    assert.deepEqual(await passwords.match(registration, proof), { ok: false, reason: "used" });
    // The used marker survives a new instance (a restart), and holds no password.
    const reopened = await readyOneTimePasswords(file, dataDir);
    assert.equal(reopened.salt, passwords.salt, "the salt is kept in the data dir");
    assert.deepEqual(await reopened.match(registration, proof), { ok: false, reason: "used" });
    for (const entry of Deno.readDirSync(`${dataDir}/key-exchange/used`)) {
      assert.match(entry.name, /^[0-9a-f]{64}$/);
      assert.ok(
        !Deno.readTextFileSync(`${dataDir}/key-exchange/used/${entry.name}`).includes("first"),
      );
    }
  });
});

Deno.test("RelayPasswords reads the one-time password file again when it changes", async () => {
  await withDir(async (dataDir) => {
    const file = await writeSecret(`${dataDir}/otp.txt`, "first-one-time\n");
    const passwords = await readyOneTimePasswords(file, dataDir);
    const proof = await proofOf(passwords, "added-later-one");
    assert.deepEqual(await passwords.match(registration, proof), { ok: false, reason: "wrong" });
    await writeSecret(file, "first-one-time\nadded-later-one\n");
    const match = await eventually(async () => {
      const match = await passwords.match(registration, proof);
      return match.ok ? match : undefined;
    }, "the added password admits");
    assert.equal(match.kind, "one-time password");
    assert.deepEqual(await passwords.oneTimePasswordCount(), { total: 2, short: 2 });
  });
});

Deno.test("RelayPasswords refuses no password, an empty one, and files others can read or too long", async () => {
  await withDir(async (dataDir) => {
    await assert.rejects(RelayPasswords.open({ dataDir }), /without a password/);
    await assert.rejects(RelayPasswords.open({ dataDir, sharedPassword: "" }), /empty/);
    const readable = `${dataDir}/readable.txt`;
    await Deno.writeTextFile(readable, "one\n");
    await Deno.chmod(readable, 0o644);
    await assert.rejects(
      RelayPasswords.open({ dataDir, oneTimePasswordsFile: readable }),
      /others can access it \(mode 644\); run: chmod 600/,
    );
    const many = await writeSecret(
      `${dataDir}/many.txt`,
      Array.from({ length: MAX_ONE_TIME_PASSWORDS + 1 }, (_, i) => `p${i}`).join("\n"),
    );
    await assert.rejects(
      RelayPasswords.open({ dataDir, oneTimePasswordsFile: many }),
      /more than 1000 passwords/,
    );
  });
});

Deno.test("RelayPasswords names a password by its id: a proof for another relay's salt, or a guess, matches nothing", async () => {
  await withDir(async (dataDir) => {
    const file = await writeSecret(`${dataDir}/otp.txt`, "first-one-time\nsecond-one-time\n");
    const passwords = await readyOneTimePasswords(file, dataDir);
    const other = await RelayPasswords.open({ sharedPassword: "x", dataDir: `${dataDir}/other` });
    assert.notEqual(other.salt, passwords.salt, "each relay makes its own salt");
    // The right password, derived with the other relay's salt: not a proof for this relay.
    const forOther = await proveKeyExchange(registration, [
      await derivePasswordKey("second-one-time", other.salt),
    ]);
    assert.deepEqual(await passwords.match(registration, forOther), { ok: false, reason: "wrong" });
    const match = await passwords.match(registration, await proofOf(passwords, "second-one-time"));
    assert.equal(match.ok && match.kind, "one-time password");
  });
});

Deno.test("RelayPasswords tells a proof naming an unknown id to come back while one-time passwords are being derived", async () => {
  await withDir(async (dataDir) => {
    const many = Array.from({ length: 50 }, (_, i) => `one-time-password-${i}`);
    const file = await writeSecret(`${dataDir}/otp.txt`, many.join("\n"));
    const passwords = await RelayPasswords.open({ oneTimePasswordsFile: file, dataDir });
    // 50 slow derivations take seconds; this proof is made with a key derived beforehand.
    const last = await proveKeyExchange(registration, [
      await derivePasswordKey(many[49], passwords.salt),
    ]);
    const early = await passwords.match(registration, last);
    assert.equal(!early.ok && early.reason, "preparing");
    await passwords.ready();
    const later = await passwords.match(registration, last);
    assert.equal(later.ok && later.kind, "one-time password");
  });
});
