import assert from "node:assert/strict";
import { joinPath } from "../keystore/secure_file.ts";
import { verifyOperatorPassword } from "../keystore/operator_password.ts";
import { admin, describe, makeTestSite, openTestStore } from "./_test_utils.ts";

Deno.test("operators add, list, passwd and remove keep a scrypt hash and an audit trail", async () => {
  await using site = await makeTestSite();
  const passwordFile = joinPath(site.root, "operator-password");
  await Deno.writeTextFile(passwordFile, "operator passphrase 1\n", { mode: 0o600 });
  const dir = ["--data-dir", site.dataDir];
  const added = await admin([
    "operators",
    "add",
    "alice",
    "--role",
    "admin",
    "--password-file",
    passwordFile,
    ...dir,
  ]);
  assert.equal(added.code, 0, describe(added));
  assert.match(added.stdout, /Added operator alice \(admin\)/);
  const again = await admin([
    "operators",
    "add",
    "alice",
    "--password-file",
    passwordFile,
    ...dir,
  ]);
  assert.equal(again.code, 1, describe(again));
  assert.match(again.stderr, /name is taken/);

  await Deno.writeTextFile(passwordFile, "operator passphrase 2\n");
  const changed = await admin([
    "operators",
    "passwd",
    "alice",
    "--password-file",
    passwordFile,
    ...dir,
  ]);
  assert.equal(changed.code, 0, describe(changed));

  const listed = await admin(["operators", "list", "--json", ...dir]);
  assert.equal(listed.code, 0, describe(listed));
  assert.deepEqual(
    JSON.parse(listed.stdout).map((o: { name: string; role: string }) => [o.name, o.role]),
    [["alice", "admin"]],
  );
  assert.doesNotMatch(listed.stdout, /scrypt|passphrase/);

  using store = openTestStore(site);
  const alice = (await store.getOperator("alice"))!;
  assert.equal(await verifyOperatorPassword("operator passphrase 2", alice.passwordHash), true);
  assert.equal(
    await verifyOperatorPassword("operator passphrase 1", alice.passwordHash),
    false,
  );

  const removed = await admin(["operators", "remove", "alice", ...dir]);
  assert.equal(removed.code, 0, describe(removed));
  const gone = await admin(["operators", "remove", "alice", ...dir]);
  assert.equal(gone.code, 1, describe(gone));

  using audit = openTestStore(site);
  assert.deepEqual(
    (await audit.listAudit(10)).map((e) => e.action),
    ["operator-removed", "operator-password-changed", "operator-added"],
  );
});

Deno.test("operators refuses a short password, a bad role and a bad name", async () => {
  await using site = await makeTestSite();
  const passwordFile = joinPath(site.root, "short");
  await Deno.writeTextFile(passwordFile, "short\n", { mode: 0o600 });
  const dir = ["--data-dir", site.dataDir];
  const short = await admin(["operators", "add", "bob", "--password-file", passwordFile, ...dir]);
  assert.equal(short.code, 1, describe(short));
  assert.match(short.stderr, /shorter than 12 characters/);
  const role = await admin([
    "operators",
    "add",
    "bob",
    "--role",
    "root",
    "--password-file",
    passwordFile,
    ...dir,
  ]);
  assert.equal(role.code, 2, describe(role));
  const name = await admin([
    "operators",
    "add",
    "bad name",
    "--password-file",
    passwordFile,
    ...dir,
  ]);
  assert.equal(name.code, 2, describe(name));
});
