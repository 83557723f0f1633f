/**
 * Test support: runs one of the project's scripts (`scripts/`) to completion as a child process
 * with all permissions, as `npm test` runs its short HTTP fuzz and crash soak.
 *
 * @module
 */

import type { RoleResult } from "./run_role.ts";

/** A finished script's exit code and output, and the result it printed as its last line. */
export interface ScriptRun<Result> extends RoleResult {
  /** The last line of stdout parsed as JSON (`{}` when the script printed nothing). */
  result: Result;
}

/** Runs `scripts/<script>` with `args`, quiet, until it exits. */
export async function runScript<Result>(
  script: string,
  args: readonly string[],
): Promise<ScriptRun<Result>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      new URL(`../scripts/${script}`, import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
  return { code: output.code, stdout, stderr, result };
}

/**
 * Runs `scripts/<script>` as {@linkcode runScript} does, failing with its output unless it exits 0:
 * for a test whose every assertion is about a successful run's result.
 */
export async function runScriptToSuccess<Result>(
  script: string,
  args: readonly string[],
): Promise<ScriptRun<Result>> {
  const run = await runScript<Result>(script, args);
  if (run.code !== 0) {
    throw new Error(`scripts/${script} exited ${run.code}\n${run.stdout}\n${run.stderr}`);
  }
  return run;
}
