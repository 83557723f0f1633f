/**
 * Entry of `mle-server`.
 *
 * @module
 */

/** Runs the server command line; returns the exit code. */
export function main(_args: string[]): Promise<number> {
  console.error("mle-server: error: not built yet");
  return Promise.resolve(1);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
