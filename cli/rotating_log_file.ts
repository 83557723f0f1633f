/**
 * A log file rotated by size: when the next line would take `FILE` past its maximum, `FILE.1`
 * becomes `FILE.2` (and so on up to `FILE.<keep>`, the oldest, which is dropped), `FILE` becomes
 * `FILE.1`, and a new `FILE` is started. So the log never holds more than about
 * `maxBytes × (keep + 1)` bytes. Lines are written synchronously (an append each), so they keep
 * their order and what was logged before a crash is on disk. Files are created 0600: a log names
 * computers and addresses, which are for the operator only.
 *
 * @module
 */

import type { LogSink } from "./log.ts";

/** Bounds of a rotated log file. */
export interface RotationLimits {
  /** Largest size of one file, in bytes (at least 1024). */
  maxBytes: number;
  /** Rotated files kept beside the current one (0 to 100). */
  keep: number;
}

/** The server's and relay's default bounds: 10 MiB, five older files. */
export const DEFAULT_ROTATION: RotationLimits = { maxBytes: 10 * 1024 * 1024, keep: 5 };

const encoder = new TextEncoder();

/**
 * Opens (appending) a rotated log file.
 *
 * @throws {Deno.errors.NotFound} When its folder does not exist; other open errors as they come.
 * @throws {RangeError} For unusable limits.
 *
 * @example
 * ```ts
 * import { openRotatingLogFile } from "./rotating_log_file.ts";
 * const dir = await Deno.makeTempDir();
 * const file = openRotatingLogFile(`${dir}/relay.log`, { maxBytes: 1024, keep: 2 });
 * for (let i = 0; i < 100; i++) file.write(`line ${i} ${"x".repeat(40)}`);
 * file.close();
 * console.log(Deno.statSync(`${dir}/relay.log.2`).isFile); // true
 * ```
 */
export function openRotatingLogFile(
  path: string,
  limits: RotationLimits = DEFAULT_ROTATION,
): LogSink & { readonly path: string; close(): void } {
  if (!Number.isSafeInteger(limits.maxBytes) || limits.maxBytes < 1024) {
    throw new RangeError(`Cannot rotate logs at ${limits.maxBytes} bytes: expected 1024 or more`);
  }
  if (!Number.isInteger(limits.keep) || limits.keep < 0 || limits.keep > 100) {
    throw new RangeError(`Cannot keep ${limits.keep} rotated logs: expected 0 to 100`);
  }
  let file = open(path);
  let size = file.statSync().size;

  const rotate = () => {
    file.close();
    for (let index = limits.keep; index >= 1; index--) {
      const from = index === 1 ? path : `${path}.${index - 1}`;
      try {
        Deno.renameSync(from, `${path}.${index}`);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
    }
    if (limits.keep === 0) Deno.removeSync(path);
    file = open(path);
    size = 0;
  };

  return {
    path,
    write(line) {
      const bytes = encoder.encode(`${line}\n`);
      if (size > 0 && size + bytes.length > limits.maxBytes) {
        try {
          rotate();
        } catch {
          // A rotation that fails (a full disk, a folder made read-only) must not stop the
          // program: the line goes on at the end of the file as it is.
          file = open(path);
        }
      }
      let written = 0;
      try {
        while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
      } catch {
        // Same: losing a log line is better than failing the request that logged it.
      }
      size += written;
    },
    close() {
      file.close();
    },
  };
}

function open(path: string): Deno.FsFile {
  return Deno.openSync(path, { append: true, create: true, mode: 0o600 });
}
