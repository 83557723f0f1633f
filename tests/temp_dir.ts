/**
 * Test support: a temporary folder that removes itself, with all it holds, when disposed.
 *
 * @module
 */

/** A temporary folder, removed with its contents at the end of its `await using` block. */
export interface TemporaryDir extends AsyncDisposable {
  /** The folder's path. */
  readonly path: string;
}

/**
 * Makes a new temporary folder for `await using`, so that a test cleans up even when it fails.
 *
 * @example
 * ```ts ignore
 * await using dir = await temporaryDir();
 * await Deno.writeTextFile(`${dir.path}/key.pvk`, "secret");
 * ```
 */
export async function temporaryDir(): Promise<TemporaryDir> {
  const path = await Deno.makeTempDir();
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/**
 * Registers a test whose body runs in a new temporary folder, removed with its contents when the
 * body ends, pass or fail: `test` gets the folder's path.
 *
 * @example
 * ```ts ignore
 * testInTemporaryDir("writes a key", async (dir) => {
 *   await Deno.writeTextFile(`${dir}/key.pvk`, "secret");
 * });
 * ```
 */
export function testInTemporaryDir(
  name: string,
  test: (dir: string) => void | Promise<void>,
): void {
  Deno.test(name, async () => {
    await using dir = await temporaryDir();
    await test(dir.path);
  });
}
