/**
 * Test support: waits until a check gives a value, bounded in time, for what other processes do
 * asynchronously (a relay forwarding, a server picking up a key).
 *
 * @module
 */

/** Polls `check` until it returns something other than undefined, or fails naming `what`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** Waits (bounded, through {@linkcode eventually}) until `condition` holds, failing after `timeoutMs` with `label`. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  label: string,
  timeoutMs = 15_000,
): Promise<void> {
  await eventually(async () => (await condition()) ? true : undefined, label, timeoutMs);
}
