/**
 * The command-line voice of every role: data on stdout, diagnostics on stderr as
 * `mle-<role>: error: …` with an optional `mle-<role>: hint: …`.
 *
 * @module
 */

import { MleError } from "../envelope/errors.ts";
import { EXIT } from "./exit_codes.ts";
import { withdrawSecretVariables } from "./secret_environment.ts";

/** A failure the user caused or can fix: printed without a stack trace. */
export class CliError extends Error {
  readonly exitCode: number;
  readonly hint: string | undefined;

  constructor(message: string, options: { exitCode?: number; hint?: string } = {}) {
    super(message);
    this.name = "CliError";
    this.exitCode = options.exitCode ?? EXIT.failure;
    this.hint = options.hint;
  }
}

/** A misuse of the command line (exit 2). */
export class UsageError extends CliError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: EXIT.usage, hint: hint ?? "run with --help to see the usage" });
    this.name = "UsageError";
  }
}

/** Prints a diagnostic line to stderr. */
export function printError(tool: string, message: string, hint?: string): void {
  console.error(`${tool}: error: ${message}`);
  if (hint) console.error(`${tool}: hint: ${hint}`);
}

/** Prints a warning line to stderr. */
export function printWarning(tool: string, message: string): void {
  console.error(`${tool}: warning: ${message}`);
}

/**
 * Runs a command's body, turning expected errors into a diagnostic and an exit code. Unexpected
 * errors print their message (never key material: none is ever put in an error) and exit 1.
 *
 * First, the `MLE_*_PASSWORD` variables leave the process environment (the body reads them from
 * `secret_environment.ts`), so that no process the command starts inherits them.
 */
export async function runCommand(tool: string, body: () => Promise<number>): Promise<number> {
  try {
    withdrawSecretVariables();
    return await body();
  } catch (error) {
    if (error instanceof CliError) {
      printError(tool, error.message, error.hint);
      return error.exitCode;
    }
    if (error instanceof MleError) {
      printError(tool, error.message, hintFor(error));
      // A secret file others can read is the caller's to fix, with the command the message names.
      return error.code === "ERR_SECRET_FILE_INSECURE" ? EXIT.usage : EXIT.failure;
    }
    if (error instanceof RangeError || error instanceof TypeError) {
      printError(tool, error.message);
      return EXIT.usage;
    }
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      printError(tool, error.message);
      return EXIT.failure;
    }
    printError(tool, `unexpected failure: ${(error as Error)?.message ?? String(error)}`);
    return EXIT.failure;
  }
}

function hintFor(error: MleError): string | undefined {
  switch (error.code) {
    case "ERR_WRONG_PASSWORD":
      return "nothing was changed; run the command again with the right password";
    case "ERR_KEY_FILE_EXISTS":
      return "keys are never overwritten; choose another path or move the old file away";
    case "ERR_SECRET_FILE_INSECURE":
      return "files that hold keys or passwords must be readable by their owner only";
    default:
      return undefined;
  }
}
