import assert from "node:assert/strict";
import { UsageError } from "../cli/output.ts";
import { readEncryptionKeyFile } from "../keystore/encryption_keys.ts";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { parseReportEncryptionArgs } from "./report_encryption.ts";
import {
  admin,
  describe,
  hasOpenssl,
  listNames,
  makeTestSite,
  seedGenerateKeyArgs,
  statusJson,
  TEST_PASSWORD,
} from "./_test_utils.ts";

const IS_WINDOWS = Deno.build.os === "windows";

Deno.test("parseReportEncryptionArgs() reads the seed's generate line", () => {
  const request = parseReportEncryptionArgs(
    "-reportencryption -generatekey -privateKeySize=max -deploynow=no -outkeypath=/media/usb -sitePvkLocation=/root/license.pvk -sitePvkPassword=pw"
      .split(" "),
  );
  assert.deepEqual(request, {
    action: "generate",
    bits: 4096,
    deployNow: false,
    outKeyPath: "/media/usb",
    site: { path: "/root/license.pvk", passwordFile: undefined, argvPassword: "pw" },
    force: false,
  });
});

Deno.test("parseReportEncryptionArgs() reads the seed's deploy line, split or not", () => {
  const expected = {
    action: "deploy",
    site: { path: "/root/license.pvk", passwordFile: undefined, argvPassword: "p=w" },
    force: false,
  };
  assert.deepEqual(
    parseReportEncryptionArgs([
      "-reportencryption",
      "-deploynow=yes",
      "-sitePvkLocation=/root/license.pvk",
      "-sitePvkPassword=p=w",
    ]),
    expected,
  );
  // The seed prints "- sitePvkPassword=<password>" on its own line.
  assert.deepEqual(
    parseReportEncryptionArgs([
      "-reportencryption",
      "-deploynow=yes",
      "-sitePvkLocation=/root/license.pvk",
      "-",
      "sitePvkPassword=p=w",
    ]),
    expected,
  );
});

Deno.test("parseReportEncryptionArgs() takes names in any case and the password file forms", () => {
  for (
    const args of [
      ["-REPORTENCRYPTION", "-GenerateKey", "-PRIVATEKEYSIZE=MIN", "-password-file=/p"],
      ["-reportencryption", "-generatekey", "-privatekeysize=2048", "--password-file", "/p"],
      ["-reportencryption", "-generatekey", "-privateKeySize=min", "--password-file=/p"],
    ]
  ) {
    assert.deepEqual(parseReportEncryptionArgs(args), {
      action: "generate",
      bits: 2048,
      deployNow: false,
      outKeyPath: undefined,
      site: { path: undefined, passwordFile: "/p", argvPassword: undefined },
      force: false,
    });
  }
  assert.deepEqual(parseReportEncryptionArgs(["-reportencryption", "-deploynow=yes", "-Force"]), {
    action: "deploy",
    site: { path: undefined, passwordFile: undefined, argvPassword: undefined },
    force: true,
  });
  assert.deepEqual(parseReportEncryptionArgs(["-reportencryption", "-h"]), { action: "help" });
  assert.deepEqual(parseReportEncryptionArgs(["-reportencryption", "-status"]), {
    action: "status",
  });
});

Deno.test("parseReportEncryptionArgs() refuses misuse without echoing values", () => {
  const cases: [string[], RegExp][] = [
    [["-reportencryption", "-sitePvkPasswrd=secret"], /Unknown option "-sitePvkPasswrd"/],
    [["-reportencryption", "-generatekey", "-privateKeySize=1024"], /key size "1024"/],
    [["-reportencryption", "-deploynow=maybe"], /-deploynow="maybe": expected yes or no/],
    [["-reportencryption", "-deploynow=no"], /Nothing to do/],
    [["-reportencryption"], /Missing action/],
    [["-reportencryption", "-outkeypath=/x", "-deploynow=yes"], /goes with -generatekey/],
    [["-reportencryption", "-deploynow=yes", "-sitePvkLocation"], /Missing value of option/],
    [["-reportencryption", "-generatekey=yes"], /takes no value/],
    [["-reportencryption", "-deploynow=yes", "secret"], /Unexpected argument #3/],
    [["-reportencryption", "-status", "-generatekey"], /-status goes alone/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseReportEncryptionArgs(args), (error: unknown) => {
      assert.ok(error instanceof UsageError, String(error));
      assert.match(error.message, message);
      assert.ok(!error.message.includes("secret"), error.message);
      return true;
    });
  }
});

Deno.test("the seed's two commands generate a Pending key, then deploy it", async () => {
  await using site = await makeTestSite();
  const usb = joinPath(site.root, "usb");
  const env = { MLE_DATA_DIR: site.dataDir };
  // As the seed writes it, with the small key size tests use.
  const generated = await admin([
    ...seedGenerateKeyArgs(site, false, usb),
    `-sitePvkPassword=${TEST_PASSWORD}`,
  ], env);
  assert.equal(generated.code, 0, describe(generated));
  assert.match(generated.stderr, /^mle-admin: warning: .*visible in the process list/m);
  assert.ok(
    !generated.stdout.includes(TEST_PASSWORD) && !generated.stderr.includes(TEST_PASSWORD),
  );
  assert.ok(!generated.stdout.includes("PRIVATE KEY"));

  let status = await statusJson(site);
  assert.equal(status.state, "Pending");
  assert.equal(status.currentKid, null);
  const kid = status.pendingKid!;
  assert.match(kid, /^[0-9a-f]{40}$/);
  assert.match(generated.stdout, new RegExp(kid));
  assert.deepEqual(status.keys.map((key) => [key.kid, key.bits, key.role]), [[
    kid,
    2048,
    "pending",
  ]]);

  // The private key file and its copy: mode 0600, PEM, named by the key id, identical.
  const keyFile = joinPath(encryptionKeysDir(site.dataDir), `${kid}.pvk`);
  const copyFile = joinPath(usb, `${kid}.pvk`);
  // -outkeypath says that its copy is the private key in clear, and names the sealed way.
  assert.ok(
    generated.stderr.includes(
      `mle-admin: warning: "${copyFile}" is the private key, unencrypted`,
    ),
    generated.stderr,
  );
  assert.match(generated.stderr, /prefer .*: mle-admin encryption export --to DIR/);
  assert.deepEqual(await listNames(encryptionKeysDir(site.dataDir)), [`${kid}.pvk`]);
  assert.deepEqual(await listNames(usb), [`${kid}.pvk`]);
  if (!IS_WINDOWS) {
    assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(copyFile)).mode! & 0o777, 0o600);
  }
  assert.equal(await Deno.readTextFile(copyFile), await Deno.readTextFile(keyFile));
  assert.equal((await readEncryptionKeyFile(keyFile, kid)).bits, 2048);
  if (await hasOpenssl()) {
    const { code } = await new Deno.Command("openssl", {
      args: ["pkey", "-in", keyFile, "-noout"],
      stdout: "null",
      stderr: "null",
    }).output();
    assert.equal(code, 0, "openssl pkey cannot read the key file");
  }

  const deployed = await admin([
    "-reportencryption",
    "-deploynow=yes",
    `-sitePvkLocation=${site.siteKey}`,
    `-sitePvkPassword=${TEST_PASSWORD}`,
  ], env);
  assert.equal(deployed.code, 0, describe(deployed));
  assert.match(deployed.stderr, /^mle-admin: warning: .*visible in the process list/m);
  assert.match(deployed.stdout, new RegExp(`Deployed encryption key ${kid}`));
  status = await statusJson(site);
  assert.equal(status.state, "Enabled");
  assert.equal(status.currentKid, kid);
  assert.equal(status.pendingKid, null);

  // Deploying again with nothing pending is a clear error.
  const again = await admin([
    "-reportencryption",
    "-deploynow=yes",
    `-sitePvkLocation=${site.siteKey}`,
    `-password-file=${site.passwordFile}`,
  ], env);
  assert.equal(again.code, 1, describe(again));
  assert.match(again.stderr, /^mle-admin: error: Cannot deploy: no key is pending/m);
});

Deno.test("-reportencryption -h prints the usage and exits 0", async () => {
  for (const args of [["-reportencryption", "-h"], ["-reportencryption", "--help"]]) {
    const result = await admin(args);
    assert.equal(result.code, 0, describe(result));
    assert.match(result.stdout, /^Usage:\n {2}mle-admin -reportencryption -generatekey/);
    assert.match(result.stdout, /Exit codes:/);
    assert.equal(result.stderr, "");
  }
});

Deno.test("a wrong password writes nothing, and a retry with the right one works", async () => {
  await using site = await makeTestSite();
  const usb = joinPath(site.root, "usb");
  const args = [
    ...seedGenerateKeyArgs(site, true, usb),
    `-dataDir=${site.dataDir}`,
  ];
  const wrong = await admin([...args, `-password-file=${site.wrongPasswordFile}`]);
  assert.equal(wrong.code, 1, describe(wrong));
  assert.match(wrong.stderr, /^mle-admin: error: Cannot open site key .*: wrong password/m);
  assert.match(wrong.stderr, /^mle-admin: hint: nothing was changed/m);
  assert.equal(wrong.stderr.trim().split("\n").length, 2, wrong.stderr);
  assert.equal(wrong.stdout, "");
  assert.deepEqual(await listNames(encryptionKeysDir(site.dataDir)), []);
  assert.deepEqual(await listNames(usb), []);
  assert.equal((await statusJson(site)).state, "Disabled");

  const right = await admin([...args, `-password-file=${site.passwordFile}`]);
  assert.equal(right.code, 0, describe(right));
  assert.match(
    right.stderr,
    /^mle-admin: warning: .* is the private key, unencrypted: [^\n]*\n$/,
  );
  const status = await statusJson(site);
  assert.equal(status.state, "Enabled");
  assert.deepEqual(await listNames(usb), [`${status.currentKid}.pvk`]);
});

Deno.test("-reportencryption misuse exits 2 and changes nothing", async () => {
  await using site = await makeTestSite();
  for (
    const args of [
      ["-reportencryption", "-generatekey", "-bogus=1"],
      ["-reportencryption", "-generatekey", "-privateKeySize=huge"],
      ["-reportencryption", "-generatekey", "-deploynow=perhaps"],
      ["-reportencryption"],
    ]
  ) {
    const result = await admin([
      ...args,
      `-sitePvkLocation=${site.siteKey}`,
      "--data-dir",
      site.dataDir,
    ], { MLE_SITE_PASSWORD: TEST_PASSWORD });
    assert.equal(result.code, 2, `${args.join(" ")}\n${describe(result)}`);
    assert.match(result.stderr, /^mle-admin: error: /m);
    assert.equal(result.stdout, "");
  }
  assert.equal((await statusJson(site)).state, "Disabled");
  assert.deepEqual(await listNames(encryptionKeysDir(site.dataDir)), []);
});

Deno.test("paths written ~/… work as pasted, in the seed's syntax and the modern one", async () => {
  await using site = await makeTestSite();
  // The shell leaves "-opt=~/…" and "--opt=~/…" as they are: the tool expands them.
  const home = { HOME: site.root, USERPROFILE: site.root };
  const generated = await admin([
    "-reportencryption",
    "-generatekey",
    "-privateKeySize=min",
    "-deploynow=no",
    "-outkeypath=~/usb",
    "-sitePvkLocation=~/site/license.pvk",
    "-password-file=~/password",
    "-dataDir=~/server",
  ], home);
  assert.equal(generated.code, 0, describe(generated));
  const kid = (await statusJson(site)).pendingKid!;
  assert.deepEqual(await listNames(joinPath(site.root, "usb")), [`${kid}.pvk`]);

  const deployed = await admin([
    "encryption",
    "deploy",
    "--site-key=~/site/license.pvk",
    "--password-file=~/password",
    "--data-dir=~/server",
  ], home);
  assert.equal(deployed.code, 0, describe(deployed));
  assert.equal((await statusJson(site)).currentKid, kid);

  // MLE_SITE_KEY as well, and a folder that is not there is named expanded.
  const missing = await admin(
    ["encryption", "status", "--data-dir=~/nowhere"],
    { ...home, MLE_SITE_KEY: "~/site/license.pvk" },
  );
  assert.equal(missing.code, 1, describe(missing));
  assert.ok(missing.stderr.includes(joinPath(site.root, "nowhere")), missing.stderr);
});
