/**
 * The checks of `DENORT_BIN`, the denort runtime `deno compile` builds on offline: set, for the
 * one target of this run, a file, not a zip archive, built for that target, and not the full
 * deno program (which deno compile would take, writing executables that behave as plain deno).
 *
 * @module
 */

import { CliError, UsageError } from "../cli/output.ts";
import { binaryTarget, type Target } from "./compile_targets.ts";

/** True for the first bytes of a zip archive (denort is published as `denort-<target>.zip`). */
export function isZip(header: Uint8Array): boolean {
  return header.length >= 4 && header[0] === 0x50 && header[1] === 0x4b && header[2] === 3 &&
    header[3] === 4;
}

function denortUrl(target: Target): string {
  return `https://dl.deno.land/release/v${Deno.version.deno}/denort-${target}.zip`;
}

export function denortHint(target: Target): string {
  return `on a connected machine download ${denortUrl(target)} (the runtime of Deno ` +
    `${Deno.version.deno}, the version building here), unzip it and set DENORT_BIN to the denort ` +
    `binary inside`;
}

/**
 * Checks that DENORT_BIN can serve the one requested target.
 *
 * @throws {UsageError} When several targets are requested.
 * @throws {CliError} When the file is missing or not a denort for the target.
 */
export async function checkDenortBin(path: string, targets: readonly Target[]): Promise<void> {
  if (path === "") {
    throw new UsageError(
      "Cannot use DENORT_BIN: it is set but empty",
      "unset DENORT_BIN to let deno compile download the runtime, or set it to a denort binary",
    );
  }
  if (targets.length > 1) {
    throw new UsageError(
      `Cannot build ${targets.length} targets with one DENORT_BIN: a denort binary runs on one ` +
        "target only, and deno compile would use it for every target",
      "build one target per run with a denort for it, e.g. DENORT_BIN=/path/to/denort " +
        "npm run compile -- --target host\n" +
        "or unset DENORT_BIN on a connected machine to let deno compile download each runtime",
    );
  }
  const target = targets[0];
  let header: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new CliError(`Cannot use DENORT_BIN "${path}": it is not a file`);
    header = await readHeader(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`Cannot use DENORT_BIN "${path}": no such file`, {
        hint: `set DENORT_BIN to a denort binary for "${target}": ${denortHint(target)}`,
      });
    }
    if (error instanceof CliError) throw error;
    throw new CliError(`Cannot read DENORT_BIN "${path}": ${(error as Error).message}`);
  }
  if (isZip(header)) {
    throw new CliError(
      `Cannot use DENORT_BIN "${path}": it is a zip archive, not the denort binary`,
      {
        hint: `unzip it and set DENORT_BIN to the denort binary inside`,
      },
    );
  }
  const built = binaryTarget(header);
  if (built === undefined) {
    throw new CliError(
      `Cannot use DENORT_BIN "${path}": it is not an executable for any of the targets`,
      { hint: `set DENORT_BIN to a denort binary for "${target}": ${denortHint(target)}` },
    );
  }
  if (built !== target) {
    throw new CliError(
      `Cannot use DENORT_BIN "${path}" for target "${target}": it is built for "${built}"`,
      {
        hint: `build --target ${built} with it, or ${denortHint(target)}`,
      },
    );
  }
  if (await isFullDeno(path)) {
    throw new CliError(
      `Cannot use DENORT_BIN "${path}": it is the full deno program, not its runtime denort; ` +
        "deno compile would accept it and write executables that behave as plain deno",
      { hint: `set DENORT_BIN to a denort binary for "${target}": ${denortHint(target)}` },
    );
  }
}

/**
 * Help texts of deno's own subcommands (run, fmt, upgrade, lsp, init). The full deno program holds
 * them; denort, the runtime alone, has no subcommands and none of them. Reading them works for a
 * binary of any target (nothing is run), unlike asking the binary for its `--version`. Two of
 * them must be found, so that one rewording in a later deno release does not make the check pass.
 */
export const FULL_DENO_MARKERS: readonly string[] = [
  "Run a JavaScript or TypeScript program",
  "Format source files",
  "Upgrade deno executable",
  "Start the language server",
  "Initialize a new project",
];

/** True when the executable at `path` is the full deno program (see FULL_DENO_MARKERS). */
export async function isFullDeno(path: string): Promise<boolean> {
  const overlap = Math.max(...FULL_DENO_MARKERS.map((marker) => marker.length)) - 1;
  const found = new Set<number>();
  using file = await Deno.open(path);
  const chunk = new Uint8Array(1 << 20);
  // Bytes as latin1 text: one character per byte, so a search for ASCII text is exact.
  const latin1 = new TextDecoder("latin1");
  let carried = "";
  while (true) {
    const read = await file.read(chunk);
    if (read === null) break;
    const text = carried + latin1.decode(chunk.subarray(0, read));
    FULL_DENO_MARKERS.forEach((marker, index) => {
      if (!found.has(index) && text.includes(marker)) found.add(index);
    });
    if (found.size >= 2) return true;
    carried = text.slice(-overlap);
  }
  return false;
}

async function readHeader(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const buffer = new Uint8Array(4096);
  let filled = 0;
  while (filled < buffer.length) {
    const read = await file.read(buffer.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return buffer.subarray(0, filled);
}
