/**
 * Where a password comes from, most private first: a file (`--password-file`), an environment
 * variable, a prompt on the terminal, or (warned against) the command line itself.
 *
 * @module
 */

import { CliError } from "./output.ts";
import { EXIT } from "./exit_codes.ts";

/** Where to look for a password. */
export interface PasswordSources {
  /** Value given on the command line: visible in the process list, so it warns. */
  argv?: string;
  /** Path of a file holding the password (its first line). */
  file?: string;
  /** Name of an environment variable. */
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
 */
export async function readPassword(sources: PasswordSources): Promise<string> {
  if (sources.file !== undefined) {
    const text = await Deno.readTextFile(sources.file);
    const password = text.split(/\r?\n/)[0];
    if (!password) throw new CliError(`Cannot read password: "${sources.file}" is empty`);
    return password;
  }
  if (sources.argv !== undefined) {
    sources.warn(
      "a password on the command line is visible in the process list; prefer --password-file, " +
        `${sources.envName ?? "an environment variable"} or the prompt`,
    );
    if (sources.argv === "") throw new CliError("Cannot use an empty password");
    return sources.argv;
  }
  const fromEnv = sources.envName ? Deno.env.get(sources.envName) : undefined;
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
