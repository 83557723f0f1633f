/**
 * Test support: Debian's Chromium driven by playwright-core, for the console's browser tests. No
 * browser is ever downloaded. Without Chromium the browser tests are skipped with the command that
 * installs it, except under CI (`CI=true`), where a missing browser fails the run (`.ci/run`
 * installs it).
 *
 * @module
 */

import { type Browser, chromium } from "playwright-core";

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** True when Chromium is installed; otherwise says how to install it (and fails under CI). */
export async function chromiumAvailable(): Promise<boolean> {
  try {
    await Deno.stat(CHROMIUM_PATH);
    return true;
  } catch {
    const hint = `Chromium is not installed at ${CHROMIUM_PATH}: ` +
      "install it with `apt-get update && apt-get install -y chromium` to run the browser tests";
    if (Deno.env.get("CI") === "true") throw new Error(hint);
    console.warn(`skipping the browser tests: ${hint}`);
    return false;
  }
}

/**
 * Registers a browser test: ignored without Chromium (see {@linkcode chromiumAvailable}), and
 * without the resource and op sanitizers, which the browser's own connections and timers would
 * trip.
 */
export async function browserTest(name: string, fn: () => Promise<void>): Promise<void> {
  Deno.test({
    name,
    ignore: !(await chromiumAvailable()),
    sanitizeResources: false,
    sanitizeOps: false,
    fn,
  });
}

/** Launches headless Chromium (without its sandbox when running as root, which it refuses). */
export async function launchChromium(): Promise<Browser> {
  const root = Deno.uid?.() === 0;
  return await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: root ? ["--no-sandbox"] : [],
  });
}
