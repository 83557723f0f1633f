/**
 * Runs this Deno executable as a child with its output collected, bounded in time: what both
 * `scripts/compile.ts` (around `deno compile`) and its tests (around the script) need.
 *
 * @module
 */

/** How a bounded run ended: its exit code, its decoded output, and whether it was killed for time. */
export interface BoundedRunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Where and how to run the child: its arguments, folder and environment. */
export type BoundedRunOptions = Pick<Deno.CommandOptions, "args" | "cwd" | "env" | "clearEnv">;

/**
 * Runs `deno` (this executable) with `options`, stdin closed, until it exits; past `timeoutSeconds`
 * it is sent `signal` and the result says `timedOut`.
 *
 * @example
 * ```ts
 * import { runDenoBounded } from "./bounded_deno_run.ts";
 * const { code, stdout } = await runDenoBounded({ args: ["--version"] }, 60);
 * console.log(code, stdout);
 * ```
 */
export async function runDenoBounded(
  options: BoundedRunOptions,
  timeoutSeconds: number,
  signal: Deno.Signal = "SIGTERM",
): Promise<BoundedRunResult> {
  const child = new Deno.Command(Deno.execPath(), {
    ...options,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
  }, timeoutSeconds * 1000);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
}
