import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isWireErrorCode, WIRE_ERROR_CODES, WIRE_ERRORS, wireCodeOf } from "./wire_error_codes.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

// The folders whose code answers requests: the server (and its console), the relays, and the
// protocol modules they build answers with.
const SENDING_FOLDERS = ["server", "relay", "protocol"];

// Codes that appear in those folders but never cross the wire, each with the reason.
const LOCAL_ONLY = new Map([
  ["ERR_DATABASE_TOO_NEW", "the store's refusal to open a newer schema: a start-up error"],
  ["ERR_SECRET_FILE_INSECURE", "a key file's permissions: a start-up error"],
  ["ERR_KEY_FILE_EXISTS", "a key file the command would overwrite: a CLI error"],
  ["ERR_WRONG_PASSWORD", "a sealed key file's password: a CLI error"],
]);

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(ROOT, folder), { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(path));
    else if (/\.tsx?$/.test(entry.name) && !/_test\.tsx?$/.test(entry.name)) files.push(path);
  }
  return files;
}

/** Every `"ERR_…"` literal of the sending folders, with the files it is in. */
function codesInSource(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const folder of SENDING_FOLDERS) {
    for (const file of sourceFiles(folder)) {
      if (file === join("protocol", "wire_error_codes.ts")) continue;
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const [, code] of text.matchAll(/["'`](ERR_[A-Z0-9_]+)["'`]/g)) {
        found.set(code, [...(found.get(code) ?? []), file]);
      }
    }
  }
  return found;
}

Deno.test("every ERR_ code the server, relays and console send is in the wire catalogue", () => {
  const found = codesInSource();
  assert.ok(found.size > 40, `the scan found only ${found.size} codes: is it reading the source?`);
  const strays = [...found].filter(([code]) => !isWireErrorCode(code) && !LOCAL_ONLY.has(code));
  assert.deepEqual(strays, [], "add these codes to protocol/wire_error_codes.ts, or to LOCAL_ONLY");
});

Deno.test("every code of the wire catalogue is sent somewhere (no dead entries)", () => {
  const found = codesInSource();
  assert.deepEqual(WIRE_ERROR_CODES.filter((code) => !found.has(code)), []);
});

Deno.test("local-only codes stay out of the wire catalogue", () => {
  for (const code of LOCAL_ONLY.keys()) assert.equal(isWireErrorCode(code), false, code);
  assert.equal(wireCodeOf("ERR_WRONG_PASSWORD"), "ERR_INTERNAL");
  assert.equal(wireCodeOf("ERR_SIGNATURE_INVALID"), "ERR_SIGNATURE_INVALID");
});

Deno.test("isWireErrorCode() refuses what is not a catalogue code", () => {
  for (const code of WIRE_ERROR_CODES) assert.equal(isWireErrorCode(code), true, code);
  const junk = [
    "ERR_SPOOL_FUL",
    "err_spool_full",
    " ERR_SPOOL_FULL",
    "",
    "toString",
    "__proto__",
    "constructor",
    null,
    undefined,
    42,
    {},
    ["ERR_SPOOL_FULL"],
  ];
  for (const value of junk) assert.equal(isWireErrorCode(value), false, String(value));
});

Deno.test("every catalogue entry names at least one status, each an HTTP error or null", () => {
  for (const [code, status] of Object.entries(WIRE_ERRORS)) {
    assert.ok(status.length > 0, code);
    for (const value of status) {
      assert.ok(value === null || (value >= 400 && value < 600), `${code}: ${value}`);
    }
  }
});
