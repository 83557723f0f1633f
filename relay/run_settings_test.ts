import assert from "node:assert/strict";
import { parseRunArgs } from "./run_settings.ts";

const noEnv = () => undefined;
/** A relay public key (43 base64url characters) that starts with "-", as one key in 64 does. */
const DASH_KEY = "-" + "A".repeat(41) + "E";
const AUTHENTICATING = ["--parent", "http://s:1", "--authenticating", "--password-file", "/pw"];

Deno.test("parseRunArgs() takes --trust-relay KEY when the key starts with -", () => {
  const settings = parseRunArgs([...AUTHENTICATING, "--trust-relay", DASH_KEY], noEnv);
  assert.deepEqual(settings?.trustedRelayKeys, [DASH_KEY]);
  const joined = parseRunArgs([...AUTHENTICATING, `--trust-relay=${DASH_KEY}`], noEnv);
  assert.deepEqual(joined?.trustedRelayKeys, [DASH_KEY]);
});

Deno.test("parseRunArgs() reads bounded numbers and durations, naming the flag when it cannot", () => {
  const settings = parseRunArgs(
    ["--parent", "http://s:1", "--revocation-interval", "60", "--rejected-max-age", "2h"],
    noEnv,
  );
  assert.equal(settings?.revocationIntervalMs, 60_000);
  assert.equal(settings?.spool?.rejectedMaxAgeMs, 7_200_000);
  assert.equal(settings?.concurrency, undefined, "each forwarder keeps its own default");
  const cases: [string[], RegExp][] = [
    [["--revocation-interval", "0"], /--revocation-interval "0": expected seconds from 1 to 86400/],
    [["--concurrency", "-3"], /--concurrency "-3": expected an integer from 1 to 64/],
    [["--upload-throttle-kbps", "x"], /--upload-throttle-kbps "x": expected KiB\/s from 0/],
    [["--rejected-max-age", "7"], /--rejected-max-age: Cannot read duration "7"/],
    [["--data-dir", ""], /Cannot use an empty --data-dir/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseRunArgs(["--parent", "http://s:1", ...args], noEnv), message);
  }
});
