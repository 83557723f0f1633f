/**
 * Entry of `mle-admin`.
 *
 * @module
 */

/** Runs the admin command line; returns the exit code. */
export function main(_args: string[]): Promise<number> {
  console.error("mle-admin: error: not built yet");
  return Promise.resolve(1);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
