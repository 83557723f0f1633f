/**
 * Where a password comes from, most private first: a file (`--password-file`) that only its owner
 * can read, an environment variable (withdrawn from the environment, `secret_environment.ts`), a
 * prompt on the terminal, or (warned against) the command line itself.
 *
 * @module
 */

import { checkOwnerOnlyFile } from "../keystore/secure_file.ts";
import { CliError } from "./output.ts";
import { EXIT } from "./exit_codes.ts";
import { secretVariable } from "./secret_environment.ts";

/** Largest password file read, in bytes: a password is one line. */
export const MAX_PASSWORD_FILE_BYTES = 64 * 1024;

/** Where to look for a password. */
export interface PasswordSources {
  /** Value given on the command line: visible in the process list, so it warns. */
  argv?: string;
  /** Path of a file holding the password (its first line); only its owner may read it. */
  file?: string;
  /** Name of an `MLE_*_PASSWORD` environment variable. */
  envName?: string;
  /** What to ask on a terminal. */
  prompt: string;
  /** Ask twice and compare (for a new password). */
  confirm?: boolean;
  /** Called with a warning when the password came from argv. */
  warn: (message: string) => void;
}

/**
 * Reads a password from the first source that has one.
 *
 * @throws {CliError} When no source has one and there is no terminal to ask on.
 * @throws {MleError} `ERR_SECRET_FILE_INSECURE` for a file others can access (exit 2).
 */
export async function readPassword(sources: PasswordSources): Promise<string> {
  if (sources.file !== undefined) return await readPasswordFile(sources.file);
  if (sources.argv !== undefined) {
    sources.warn(
      "a password on the command line is visible in the process list; prefer --password-file, " +
        `${sources.envName ?? "an environment variable"} or the prompt`,
    );
    if (sources.argv === "") throw new CliError("Cannot use an empty password");
    return sources.argv;
  }
  const fromEnv = sources.envName ? secretVariable(sources.envName) : undefined;
  if (fromEnv) return fromEnv;
  if (!Deno.stdin.isTerminal()) {
    throw new CliError("Cannot read password: no terminal to ask on", {
      exitCode: EXIT.usage,
      hint: `give --password-file FILE${sources.envName ? ` or set ${sources.envName}` : ""}`,
    });
  }
  const first = promptHidden(sources.prompt);
  if (sources.confirm) {
    const second = promptHidden("Repeat the password: ");
    if (first !== second) throw new CliError("Cannot use password: the two entries differ");
  }
  if (!first) throw new CliError("Cannot use an empty password");
  return first;
}

/**
 * Reads a password file's first line, after the one rule for secret files (regular, owner-only).
 *
 * @throws {MleError} `ERR_SECRET_FILE_INSECURE` naming the `chmod` to run.
 * @throws {CliError} When the file is empty or too large to be a password.
 */
export async function readPasswordFile(path: string): Promise<string> {
  const info = await checkOwnerOnlyFile(path, "password file");
  if (info.size > MAX_PASSWORD_FILE_BYTES) {
    throw new CliError(
      `Cannot read password file "${path}": larger than ${MAX_PASSWORD_FILE_BYTES} bytes`,
      { exitCode: EXIT.usage, hint: "the password is the first line of a small file" },
    );
  }
  const password = (await Deno.readTextFile(path)).split(/\r?\n/)[0];
  if (!password) {
    throw new CliError(`Cannot read password file "${path}": it is empty`, {
      exitCode: EXIT.usage,
      hint: "write the password on the file's first line",
    });
  }
  return password;
}

function promptHidden(question: string): string {
  const encoder = new TextEncoder();
  Deno.stderr.writeSync(encoder.encode(question));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  try {
    while (true) {
      const n = Deno.stdin.readSync(buffer);
      if (n === null || n === 0) break;
      const c = buffer[0];
      if (c === 13 || c === 10) break;
      if (c === 3) throw new CliError("Cancelled", { exitCode: EXIT.failure });
      if (c === 127 || c === 8) {
        bytes.pop();
        continue;
      }
      bytes.push(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    Deno.stderr.writeSync(encoder.encode("\n"));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
