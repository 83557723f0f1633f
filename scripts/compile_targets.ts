/**
 * The platforms `npm run compile` builds for, as `deno compile --target` names them, and how to
 * tell which of them an executable was built for.
 *
 * @module
 */

import { CliError, UsageError } from "../cli/output.ts";

/** The platforms the executables are built for, as `deno compile --target` names them. */
export const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
] as const;

/** One of {@linkcode TARGETS}. */
export type Target = typeof TARGETS[number];

/**
 * Reads a `--target` value: `host` (this machine's) or one of {@linkcode TARGETS}.
 *
 * @throws {UsageError} For any other name.
 */
export function readTarget(value: string): Target {
  if (value === "host") return hostTarget();
  if ((TARGETS as readonly string[]).includes(value)) return value as Target;
  throw new UsageError(
    `Unknown target "${value}": expected host or one of ${TARGETS.join(", ")}`,
  );
}

/** The target of this machine. */
export function hostTarget(): Target {
  const host = Deno.build.target;
  if ((TARGETS as readonly string[]).includes(host)) return host as Target;
  throw new CliError(`Cannot build for the host "${host}": it is not one of the targets`, {
    hint: `choose targets by name: ${TARGETS.join(", ")}`,
  });
}

/**
 * The target an executable was built for, from its first bytes (ELF, Mach-O or PE header), or
 * `undefined` when they are none of the targets.
 */
export function binaryTarget(header: Uint8Array): Target | undefined {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const has = (offset: number, bytes: number[]) =>
    header.length >= offset + bytes.length && bytes.every((b, i) => header[offset + i] === b);
  // ELF, little-endian: e_machine at 18.
  if (has(0, [0x7f, 0x45, 0x4c, 0x46]) && header[5] === 1 && header.length >= 20) {
    const machine = view.getUint16(18, true);
    if (machine === 0x3e) return "x86_64-unknown-linux-gnu";
    if (machine === 0xb7) return "aarch64-unknown-linux-gnu";
    return undefined;
  }
  // Mach-O 64-bit, little-endian: cputype at 4.
  if (has(0, [0xcf, 0xfa, 0xed, 0xfe]) && header.length >= 8) {
    const cpu = view.getUint32(4, true);
    if (cpu === 0x01000007) return "x86_64-apple-darwin";
    if (cpu === 0x0100000c) return "aarch64-apple-darwin";
    return undefined;
  }
  // PE: "MZ", the offset of "PE\0\0" at 0x3c, the machine right after it.
  if (has(0, [0x4d, 0x5a]) && header.length >= 0x40) {
    const pe = view.getUint32(0x3c, true);
    if (has(pe, [0x50, 0x45, 0, 0]) && header.length >= pe + 6) {
      if (view.getUint16(pe + 4, true) === 0x8664) return "x86_64-pc-windows-msvc";
    }
  }
  return undefined;
}
