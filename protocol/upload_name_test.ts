import assert from "node:assert/strict";
import { MAX_STORED_NAME_BYTES } from "./upload.ts";
import { alternativeName, sanitizeUploadName } from "./upload_name.ts";

Deno.test("sanitizeUploadName() rewrites every unsafe name into one plain file name", () => {
  const cases: Array<[string, string]> = [
    ["app.log", "app.log"],
    ["../../etc/passwd", "_.._etc_passwd"],
    ["..", "upload"],
    [".", "upload"],
    ["/etc/passwd", "_etc_passwd"],
    ["C:\\Windows\\system32\\config", "C__Windows_system32_config"],
    ["\\\\server\\share\\x", "__server_share_x"],
    ["a\u0000b", "a_b"],
    ["line\nbreak", "line_break"],
    ["bidi\u202Eexe.txt", "bidi_exe.txt"],
    ["CON", "_CON"],
    ["con.txt", "_con.txt"],
    ["NUL", "_NUL"],
    ["COM1.log", "_COM1.log"],
    ["lpt9", "_lpt9"],
    ["CONSOLE.txt", "CONSOLE.txt"],
    ["trailing dots...", "trailing dots"],
    ["  spaces  ", "spaces"],
    [".hidden", "hidden"],
    ['what?*<>|"', "what______"],
  ];
  for (const [declared, expected] of cases) {
    assert.equal(sanitizeUploadName(declared), expected, JSON.stringify(declared));
  }
});

// Found by upload_fuzz_test.ts: cutting a long name to the bound could leave a trailing space or
// dot (which Windows silently drops), or bare a reserved device name, or its "_" pass the bound.
Deno.test("sanitizeUploadName() cuts a long name without leaving a trailing space or dot, or a device name", () => {
  const cases: Array<[string, string]> = [
    ["x".repeat(199) + " !", "x".repeat(199)],
    ["x".repeat(199) + ".yyyyyyyyyyyyyyyyyyyy", "x".repeat(199)],
    ["CON" + " ".repeat(300) + "x", "_CON"],
  ];
  for (const [declared, expected] of cases) {
    assert.equal(sanitizeUploadName(declared), expected, JSON.stringify(declared));
  }
  const device = sanitizeUploadName("CON." + "a".repeat(300));
  assert.ok(device.startsWith("_CON."), device);
  assert.ok(new TextEncoder().encode(device).length <= MAX_STORED_NAME_BYTES);
});

Deno.test("sanitizeUploadName() never yields a separator, a dot name or an over-long name", () => {
  const long = "é".repeat(500) + ".tar.gz";
  const shortened = sanitizeUploadName(long);
  assert.ok(new TextEncoder().encode(shortened).length <= MAX_STORED_NAME_BYTES);
  assert.ok(shortened.endsWith(".gz"));
  for (const name of ["a/b", "a\\b", "../x", "x/..", "/", "\\", "...", "a\u0000"]) {
    const safe = sanitizeUploadName(name);
    assert.ok(!/[\\/]/.test(safe) && !safe.includes("\0"), name);
    assert.ok(safe !== "." && safe !== ".." && safe !== "", name);
  }
});

Deno.test("alternativeName() numbers a taken name before its extension, within the length bound", () => {
  assert.equal(alternativeName("app.log", 2), "app (2).log");
  assert.equal(alternativeName("README", 3), "README (3)");
  const long = alternativeName("x".repeat(MAX_STORED_NAME_BYTES), 999);
  assert.ok(new TextEncoder().encode(long).length <= MAX_STORED_NAME_BYTES);
  assert.ok(long.endsWith(" (999)"));
});

// Found by upload_fuzz_test.ts: the stem of "CON<spaces>A..AAA" was cut keeping "." as if it were
// an extension, so the alternative name "CON<spaces>. (10000).AAA" bared the device name CON.
Deno.test("alternativeName() never bares a device name or leaves a dot or space before the number", () => {
  for (let spaces = 150; spaces < 200; spaces++) {
    const name = sanitizeUploadName("CON" + " ".repeat(spaces) + "A..AAA");
    for (const n of [2, 1000, 99999]) {
      const alternative = alternativeName(name, n);
      assert.ok(new TextEncoder().encode(alternative).length <= MAX_STORED_NAME_BYTES);
      assert.doesNotMatch(alternative.split(".")[0].trimEnd(), /^con$/i, alternative);
      assert.doesNotMatch(alternative, /[. ] \(\d+\)/, alternative);
    }
  }
});
