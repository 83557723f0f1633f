import assert from "node:assert/strict";
import { UsageError } from "../cli/output.ts";
import { parseSpoolRunArgs } from "./spool_setup.ts";

const noEnv = () => undefined;

Deno.test("parseSpoolRunArgs() defaults to 2 GiB, a twentieth of it per computer, 7 days and 256 MiB of rejected reports", () => {
  assert.deepEqual(parseSpoolRunArgs({}, noEnv), {
    maxBytes: 2 * 1024 ** 3,
    maxBytesPerComputer: Math.floor(2 * 1024 ** 3 / 20),
    rejectedMaxAgeMs: 7 * 86_400_000,
    rejectedMaxBytes: 256 * 1024 ** 2,
  });
});

Deno.test("parseSpoolRunArgs() reads the flags and the environment; a share never passes the spool", () => {
  const settings = parseSpoolRunArgs(
    { "spool-max-size-per-computer": "1G", "rejected-max-age": "2s", "rejected-max-size": "1M" },
    (name) => name === "MLE_RELAY_SPOOL_MAX_SIZE" ? "64K" : undefined,
  );
  assert.deepEqual(settings, {
    maxBytes: 65_536,
    maxBytesPerComputer: 65_536,
    rejectedMaxAgeMs: 2000,
    rejectedMaxBytes: 1024 ** 2,
  });
  assert.equal(parseSpoolRunArgs({ "spool-max-size": "4M" }, noEnv).maxBytesPerComputer, 1024 ** 2);
});

Deno.test("parseSpoolRunArgs() refuses malformed and tiny sizes and ages, naming the flag", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ "spool-max-size": "lots" }, /--spool-max-size: Cannot read size "lots"/],
    [{ "spool-max-size": "1K" }, /--spool-max-size "1K": expected at least 16K/],
    [{ "spool-max-size-per-computer": "0" }, /--spool-max-size-per-computer "0"/],
    [{ "rejected-max-age": "7" }, /--rejected-max-age: Cannot read duration "7"/],
    [{ "rejected-max-size": "-1M" }, /--rejected-max-size/],
  ];
  for (const [values, message] of cases) {
    assert.throws(() => parseSpoolRunArgs(values, noEnv), UsageError);
    assert.throws(() => parseSpoolRunArgs(values, noEnv), message);
  }
});
