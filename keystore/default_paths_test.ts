import assert from "node:assert/strict";
import {
  defaultKeyStoragePath,
  defaultRelayDataDir,
  defaultServerDataDir,
} from "./default_paths.ts";
import { ENCRYPTION_KEYS_FOLDER } from "./encryption_keys.ts";

Deno.test("defaultKeyStoragePath() gives the KeyStorage paths seed 002 documents", () => {
  assert.equal(
    defaultKeyStoragePath("windows", false),
    "C:\\Program Files\\BigFix Enterprise\\BES Client\\KeyStorage",
  );
  assert.equal(
    defaultKeyStoragePath("windows", true),
    "C:\\Program Files (x86)\\BigFix Enterprise\\BES Client\\KeyStorage",
  );
  assert.equal(
    defaultKeyStoragePath("macos"),
    "/Library/Application Support/BigFix/BES Agent/KeyStorage",
  );
  for (const os of ["linux", "aix", "hpux", "solaris"] as const) {
    assert.equal(defaultKeyStoragePath(os), "/etc/opt/BESClient/KeyStorage");
  }
});

Deno.test("the Windows server and relay data dirs hold Encryption Keys where seed 000 puts them", () => {
  // Seed 000: "Program Files\BigFix Enterprise\BigFix Server\Encryption Keys\SHA1HASH.pvk" and
  // "Program Files\BigFix Enterprise\BigFix Relay\Encryption Keys".
  assert.equal(
    `${defaultServerDataDir("windows")}\\${ENCRYPTION_KEYS_FOLDER}`,
    "C:\\Program Files\\BigFix Enterprise\\BigFix Server\\Encryption Keys",
  );
  assert.equal(
    `${defaultRelayDataDir("windows")}\\${ENCRYPTION_KEYS_FOLDER}`,
    "C:\\Program Files\\BigFix Enterprise\\BigFix Relay\\Encryption Keys",
  );
});
