import assert from "node:assert/strict";
import {
  parseFlags,
  readChoice,
  readDuration,
  readInteger,
  readNumber,
  readPath,
  readSize,
} from "./flags.ts";
import { UsageError } from "./output.ts";

const RELAY_LIKE = {
  "trust-relay": { type: "string", multiple: true },
  "data-dir": { type: "string", path: true },
  parent: { type: "string" },
  decrypt: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** A relay public key as base64url that happens to start with "-" (one key in 64 does). */
const DASH_KEY = "-Xb3kq9V0cR7nZp2LmWtY5uE8sAoHgJd1fKiQwB6yTv";

Deno.test("parseFlags() takes a value that starts with - after a flag that takes a value", () => {
  const { values } = parseFlags(["--trust-relay", DASH_KEY, "--trust-relay", "--x", "--decrypt"], {
    ...RELAY_LIKE,
  });
  assert.deepEqual(values["trust-relay"], [DASH_KEY, "--x"]);
  assert.equal(values.decrypt, true);
});

Deno.test("parseFlags() keeps the --flag=VALUE form, a value with - included", () => {
  const { values } = parseFlags([`--trust-relay=${DASH_KEY}`, "--parent=http://a:1"], RELAY_LIKE);
  assert.deepEqual(values["trust-relay"], [DASH_KEY]);
  assert.equal(values.parent, "http://a:1");
});

Deno.test("parseFlags() never takes a declared flag as the value of the one before", () => {
  assert.throws(
    () => parseFlags(["--parent", "--decrypt"], RELAY_LIKE),
    (error: Error) =>
      error instanceof UsageError && error.message === 'Missing value of option "--parent"',
  );
  assert.throws(
    () => parseFlags(["--parent", "-h"], RELAY_LIKE),
    /Missing value of option "--parent"/,
  );
});

Deno.test("parseFlags() refuses an unknown flag, a value of a boolean and a stray argument", () => {
  const cases: [string[], string][] = [
    [["--bogus"], 'Unknown option "--bogus"'],
    [["--decrypt=yes"], 'Option "--decrypt" takes no value'],
    [["extra"], 'Unexpected argument "extra"'],
    [["--data-dir="], "Cannot use an empty --data-dir"],
  ];
  for (const [args, message] of cases) {
    assert.throws(
      () => parseFlags(args, RELAY_LIKE),
      (error: Error) => error instanceof UsageError && error.message === message,
      args.join(" "),
    );
  }
});

Deno.test("parseFlags() gives positionals only when allowed, and stops at --", () => {
  const { values, positionals } = parseFlags(
    ["report", "--parent", "http://a:1", "--", "--decrypt"],
    RELAY_LIKE,
    { positionals: true },
  );
  assert.equal(values.parent, "http://a:1");
  assert.equal(values.decrypt, undefined);
  assert.deepEqual(positionals, ["report", "--decrypt"]);
});

Deno.test("parseFlags() expands a leading ~ in path flags only", () => {
  const home = Deno.env.get("HOME");
  Deno.env.set("HOME", "/home/ops");
  try {
    const { values } = parseFlags(["--data-dir", "~/relay", "--parent", "~/x"], RELAY_LIKE);
    assert.equal(values["data-dir"], "/home/ops/relay");
    assert.equal(values.parent, "~/x");
  } finally {
    if (home === undefined) Deno.env.delete("HOME");
    else Deno.env.set("HOME", home);
  }
});

Deno.test("parseFlags() never echoes the value of a misused flag", () => {
  assert.throws(
    () => parseFlags(["--decrypt=hunter2"], RELAY_LIKE),
    (error: Error) => !error.message.includes("hunter2"),
  );
});

Deno.test("readInteger() reads a bounded whole number or the fallback", () => {
  const bounds = { min: 1, max: 64 };
  assert.equal(readInteger("concurrency", "64", 4, bounds), 64);
  assert.equal(readInteger("concurrency", undefined, 4, bounds), 4);
  assert.equal(readInteger("concurrency", undefined, undefined, bounds), undefined);
  for (const text of ["0", "65", "-1", "1.5", "", " 3", "1e2", "0x10", "99999999999999999"]) {
    assert.throws(
      () => readInteger("concurrency", text, 4, bounds),
      (error: Error) =>
        error instanceof UsageError &&
        error.message === `Cannot use --concurrency "${text}": expected an integer from 1 to 64`,
      text,
    );
  }
  assert.throws(
    () => readInteger("interval", "0", 30, { min: 1, max: 3600, unit: "seconds" }),
    /Cannot use --interval "0": expected seconds from 1 to 3600/,
  );
});

Deno.test("readNumber() reads a bounded decimal number or the fallback", () => {
  const bounds = { min: 0.001, max: 30, unit: "seconds" };
  assert.equal(readNumber("seconds", "0.6", 1, bounds), 0.6);
  assert.equal(readNumber("seconds", "30", 1, bounds), 30);
  assert.equal(readNumber("seconds", undefined, 1, bounds), 1);
  for (const text of ["0", "30.5", "-1", ".5", "1.", "", "1e1", "Infinity", "NaN", "0x10"]) {
    assert.throws(
      () => readNumber("seconds", text, 1, bounds),
      (error: Error) =>
        error instanceof UsageError &&
        error.message === `Cannot use --seconds "${text}": expected seconds from 0.001 to 30`,
      text,
    );
  }
});

Deno.test("readDuration() reads s, m, h or d and names the flag when it cannot", () => {
  assert.equal(readDuration("max-age", "7d", 1), 604_800_000);
  assert.equal(readDuration("max-age", undefined, 1), 1);
  assert.throws(
    () => readDuration("max-age", "7", 1),
    (error: Error) =>
      error instanceof UsageError &&
      error.message.startsWith('Cannot use --max-age: Cannot read duration "7"'),
  );
});

Deno.test("readSize() reads a size within bounds and names the flag when it cannot", () => {
  assert.equal(readSize("max-size", "2K", 0), 2048);
  assert.equal(readSize("max-size", undefined, 5), 5);
  assert.throws(
    () => readSize("max-size", "lots", 0),
    /^UsageError: Cannot use --max-size: Cannot read size "lots"/,
  );
  assert.throws(
    () => readSize("max-size", "1K", 0, { min: 16384, minText: "16K" }),
    /Cannot use --max-size "1K": expected at least 16K \(16384 bytes\)/,
  );
  assert.throws(
    () => readSize("max-size", "2M", 0, { max: 1024 }),
    /Cannot use --max-size "2M": expected at most 1024 bytes/,
  );
});

Deno.test("readChoice() accepts the listed words only", () => {
  const formats = ["text", "json", "csv"] as const;
  assert.equal(readChoice("format", "csv", "text", formats), "csv");
  assert.equal(readChoice("format", undefined, "text", formats), "text");
  assert.throws(
    () => readChoice("format", "xml", "text", formats),
    /Cannot use --format "xml": expected text, json or csv/,
  );
});

Deno.test("readPath() expands ~ in an environment fallback and refuses an empty path", () => {
  assert.equal(readPath("data-dir", "/srv/x", "/default"), "/srv/x");
  assert.equal(readPath("data-dir", undefined, "/default"), "/default");
  assert.throws(() => readPath("data-dir", "", "/default"), /Cannot use an empty --data-dir/);
});
