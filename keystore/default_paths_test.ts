import assert from "node:assert/strict";
import { defaultKeyStoragePath } from "./default_paths.ts";

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
