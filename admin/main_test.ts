import assert from "node:assert/strict";
import { UsageError } from "../cli/output.ts";
import { extractDataDir, wantsHelp } from "./_args.ts";
import { isReportEncryptionLine } from "./main.ts";
import { admin, describe } from "./_test_utils.ts";

Deno.test("extractDataDir() finds the data dir in every form and position", () => {
  assert.deepEqual(extractDataDir(["--data-dir", "/d", "computers", "list"]), {
    dataDir: "/d",
    rest: ["computers", "list"],
  });
  assert.deepEqual(extractDataDir(["computers", "list", "--data-dir=/d"]), {
    dataDir: "/d",
    rest: ["computers", "list"],
  });
  assert.deepEqual(extractDataDir(["-reportencryption", "-DATADIR=/d x", "-status"]), {
    dataDir: "/d x",
    rest: ["-reportencryption", "-status"],
  });
  assert.deepEqual(extractDataDir(["-dataDir=/d", "--data-dir", "/d"]).dataDir, "/d");
  assert.deepEqual(extractDataDir(["reports"]), { rest: ["reports"] });
  assert.throws(() => extractDataDir(["reports", "--data-dir"]), UsageError);
  assert.throws(() => extractDataDir(["--data-dir=", "reports"]), UsageError);
  assert.throws(() => extractDataDir(["--data-dir", "/a", "--data-dir=/b"]), /two data dirs/);
});

Deno.test("wantsHelp() and isReportEncryptionLine() read the line", () => {
  assert.equal(wantsHelp(["encryption", "generate", "-h"]), true);
  assert.equal(wantsHelp(["encryption", "--help", "x"]), true);
  assert.equal(wantsHelp(["encryption", "--", "-h"]), false);
  assert.equal(wantsHelp(["encryption", "-help"]), false);
  assert.equal(isReportEncryptionLine(["-ReportEncryption", "-h"]), true);
  assert.equal(isReportEncryptionLine(["encryption", "status"]), false);
});

Deno.test("every --help prints the usage to stdout and exits 0", async () => {
  const cases: [string[], RegExp][] = [
    [["--help"], /^Usage: mle-admin <command>/],
    [["-h"], /^Usage: mle-admin <command>/],
    [["help"], /^Usage: mle-admin <command>/],
    [["help", "settings"], /^Usage:\n {2}mle-admin settings set/],
    [["init-site", "--help"], /^Usage:\n {2}mle-admin init-site/],
    [["init-site", "--bogus", "-h"], /^Usage:\n {2}mle-admin init-site/],
    [["encryption", "--help"], /^Usage:\n {2}mle-admin encryption generate/],
    [["encryption", "generate", "-h"], /^Usage:\n {2}mle-admin encryption generate/],
    [["encryption", "deploy", "--help"], /^Usage:\n {2}mle-admin encryption generate/],
    [["encryption", "status", "--json", "-h"], /^Usage:\n {2}mle-admin encryption generate/],
    [["settings", "set", "--help"], /^Usage:\n {2}mle-admin settings set/],
    [["computers", "list", "--help"], /^Usage:\n {2}mle-admin computers list/],
    [["reports", "-h"], /^Usage:\n {2}mle-admin reports \[--computer ID\]/],
    [
      ["--data-dir", "/nowhere", "reports", "-h"],
      /^Usage:\n {2}mle-admin reports \[--computer ID\]/,
    ],
    [["-reportencryption", "-h"], /^Usage:\n {2}mle-admin -reportencryption/],
    [["-reportencryption", "-generatekey", "-h"], /^Usage:\n {2}mle-admin -reportencryption/],
  ];
  for (const [args, usage] of cases) {
    const result = await admin(args);
    assert.equal(result.code, 0, `${args.join(" ")}\n${describe(result)}`);
    assert.match(result.stdout, usage, args.join(" "));
    assert.match(result.stdout, /Examples?:|Commands:/);
    assert.match(result.stdout, /Exit codes:/);
    assert.equal(result.stderr, "", args.join(" "));
  }
});

Deno.test("the top-level help lists every command with an example", async () => {
  const { stdout } = await admin(["--help"]);
  for (
    const command of [
      "init-site",
      "encryption generate",
      "encryption deploy",
      "encryption status",
      "-reportencryption",
      "settings set",
      "computers list",
      "reports",
    ]
  ) {
    assert.match(stdout, new RegExp(`^ {2}${command} `, "m"), command);
    assert.match(stdout, new RegExp(`^ {6}mle-admin ${command}`, "m"), command);
  }
});

Deno.test("misuse of the command line exits 2 with a diagnostic on stderr", async () => {
  const cases: [string[], RegExp][] = [
    [[], /^Usage: mle-admin <command>/],
    [["frobnicate"], /^mle-admin: error: Unknown command "frobnicate"$/m],
    [["--bogus"], /^mle-admin: error: Unknown option "--bogus"$/m],
    [
      ["--json", "computers", "list"],
      /^mle-admin: error: Unexpected option "--json" before the command "computers"$/m,
    ],
    [["computers", "list", "--data-dir"], /^mle-admin: error: Missing value of --data-dir/m],
    [["--data-dir", "/a", "computers", "list", "--data-dir=/b"], /two data dirs/],
  ];
  for (const [args, message] of cases) {
    const result = await admin(args);
    assert.equal(result.code, 2, `${args.join(" ")}\n${describe(result)}`);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, message);
  }
});

Deno.test("--version prints the version", async () => {
  const result = await admin(["--version"]);
  assert.equal(result.code, 0, describe(result));
  assert.match(result.stdout, /^mle-admin \d+\.\d+\.\d+\n$/);
});
