/**
 * The name an uploaded file is stored under: a declared name made safe as one file name on every
 * platform, and the numbered alternatives when it is taken. Pure: no files.
 *
 * @module
 */

import { MAX_STORED_NAME_BYTES } from "./upload.ts";

const RESERVED_DEVICE = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;
// Control and format characters (bidi overrides, zero-width), line separators, path separators
// and the characters Windows forbids in names.
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\\/:*?"<>|]/gu;

/**
 * Turns a declared file name into one that is safe as a single file name on every platform:
 * separators and unsafe characters become `_`, so `..`, absolute paths and drive letters can never
 * select a folder; leading and trailing dots and spaces go (no hidden files, no `.`/`..`, nothing
 * Windows would silently trim); reserved device names (CON, NUL, COM1, …) get a `_` in front; the
 * result is at most MAX_STORED_NAME_BYTES of UTF-8, keeping a short extension.
 *
 * @example
 * ```ts
 * import { sanitizeUploadName } from "./upload_name.ts";
 * console.log(sanitizeUploadName("../../etc/passwd")); // "_.._etc_passwd"
 * console.log(sanitizeUploadName("CON.txt")); // "_CON.txt"
 * ```
 */
export function sanitizeUploadName(declared: string): string {
  let name = String(declared).toWellFormed().normalize("NFC").replace(UNSAFE_CHARACTERS, "_");
  name = trimDotsAndSpaces(name) || "upload";
  // Cut first, then look at what is left: a cut can end on a space or dot, or bare a device name.
  // The first character is neither a dot nor a space, so the trimmed cut is never empty.
  name = trimDotsAndSpaces(truncateName(name, MAX_STORED_NAME_BYTES));
  if (RESERVED_DEVICE.test(name.split(".")[0].trimEnd())) {
    name = `_${trimDotsAndSpaces(truncateName(name, MAX_STORED_NAME_BYTES - 1))}`;
  }
  return name;
}

function trimDotsAndSpaces(name: string): string {
  return name.replace(/^[. ]+/, "").replace(/[. ]+$/, "");
}

/**
 * The `n`-th alternative of a stored name when the first is taken: `name (n).ext`.
 *
 * @example
 * ```ts
 * import { alternativeName } from "./upload_name.ts";
 * console.log(alternativeName("app.log", 2)); // "app (2).log"
 * ```
 */
export function alternativeName(name: string, n: number): string {
  const dot = name.lastIndexOf(".");
  const hasExtension = dot > 0 && name.length - dot <= 16;
  const stem = hasExtension ? name.slice(0, dot) : name;
  const extension = hasExtension ? name.slice(dot) : "";
  const suffix = ` (${n})${extension}`;
  const room = MAX_STORED_NAME_BYTES - new TextEncoder().encode(suffix).length;
  // The stem is cut as plain text (a dot in it is no extension), then looked at as
  // sanitizeUploadName looks at a name: a cut may end on a dot or space, or bare a device name.
  let cut = trimDotsAndSpaces(cutToBytes(stem, room)) || "upload";
  if (RESERVED_DEVICE.test(cut.split(".")[0].trimEnd())) {
    cut = `_${trimDotsAndSpaces(cutToBytes(cut, room - 1))}`;
  }
  return cut + suffix;
}

function truncateName(name: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(name).length <= maxBytes) return name;
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  const room = maxBytes - encoder.encode(extension).length;
  return cutToBytes(extension ? name.slice(0, dot) : name, room) + extension;
}

/** The longest start of `text`, in whole characters, of at most `maxBytes` UTF-8 bytes. */
function cutToBytes(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  let cut = "";
  let used = 0;
  for (const character of text) {
    const size = encoder.encode(character).length;
    if (used + size > maxBytes) break;
    cut += character;
    used += size;
  }
  return cut;
}
