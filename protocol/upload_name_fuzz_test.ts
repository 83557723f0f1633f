import assert from "node:assert/strict";
import { anyText, fc, fuzzParser, noError } from "../tests/fuzz.ts";
import { MAX_STORED_NAME_BYTES } from "./upload.ts";
import { alternativeName, sanitizeUploadName } from "./upload_name.ts";

const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\/:*?"<>|]/u;
const RESERVED = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;

function assertSafeName(name: string): void {
  assert.ok(name.length > 0, "empty");
  assert.ok(new TextEncoder().encode(name).length <= MAX_STORED_NAME_BYTES, "too long");
  assert.ok(!UNSAFE.test(name), "an unsafe character");
  assert.ok(!/^[. ]|[. ]$/.test(name), "a leading or trailing dot or space");
  assert.ok(!RESERVED.test(name.split(".")[0].trimEnd()), "a reserved device name");
}

Deno.test("fuzz: sanitizeUploadName() gives one safe file name for any declared name", async () => {
  const names = fc.oneof(
    anyText,
    fc.string({
      unit: fc.constantFrom("a", "é", "😀", ".", " ", "/", "\\", ":", "\u202e", "\0"),
      maxLength: 300,
    }),
    fc.tuple(
      fc.constantFrom("CON", "nul", "Com1", "LPT¹"),
      fc.constantFrom("", " ", "."),
      fc.nat({ max: MAX_STORED_NAME_BYTES }),
      anyText,
    ).map(([base, pad, count, rest]) => base + pad.repeat(count) + rest),
    // Names around the stored-name bound, where it is cut: a separator just before the cut.
    fc.tuple(
      fc.constantFrom("x", "é", "😀"),
      fc.integer({ min: MAX_STORED_NAME_BYTES / 4 - 4, max: MAX_STORED_NAME_BYTES }),
      fc.constantFrom(" ", ".", ". ", " ."),
      fc.string({ minLength: 1, maxLength: 20 }),
    ).map(([unit, bytes, separator, tail]) =>
      unit.repeat(Math.floor(bytes / new TextEncoder().encode(unit).length)) + separator + tail
    ),
  );
  await fuzzParser(
    "sanitizeUploadName",
    fc.tuple(names, fc.integer({ min: 2, max: 99999 })),
    ([declared, n]) => {
      const name = sanitizeUploadName(declared);
      assertSafeName(name);
      assertSafeName(alternativeName(name, n));
    },
    noError,
  );
});
