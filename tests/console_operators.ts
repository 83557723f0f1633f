/**
 * Test support: the web console's operators for the browser tests, added with the real admin
 * tool and signed in through the console's own sign-in form.
 *
 * @module
 */

import type { Page } from "playwright-core";
import { admin, secretFile, type TestSite } from "./test_site.ts";

/** The password every test operator is added with. */
export const OPERATOR_PASSWORD = "operator passphrase for tests";

/** Adds each operator, with its role, to the site's console (`mle-admin operators add`). */
export async function addOperators(
  site: TestSite,
  operators: ReadonlyArray<readonly [name: string, role: "admin" | "viewer"]>,
): Promise<void> {
  const passwordFile = await secretFile(`${site.root}/operator-password`, OPERATOR_PASSWORD + "\n");
  for (const [name, role] of operators) {
    await admin([
      "operators",
      "add",
      name,
      "--role",
      role,
      "--password-file",
      passwordFile,
      "--data-dir",
      site.serverDir,
    ]);
  }
}

/** Signs `name` in on the console at `base` through its form; the page it lands on. */
export async function signIn(
  page: Page,
  base: string,
  name: string,
  password = OPERATOR_PASSWORD,
): Promise<string> {
  await page.goto(`${base}/sign-in`);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await page.click("button[type=submit]");
  await page.waitForLoadState();
  return await page.content();
}
