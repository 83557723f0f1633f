/**
 * Test support for the admin tool: a temporary site made by the real `mle-admin init-site`, and a
 * runner that spawns the real admin process with its shipped permissions.
 *
 * @module
 */

import { type RoleResult, runRole } from "../tests/run_role.ts";
import { joinPath } from "../keystore/secure_file.ts";
import {
  type ComputerRecord,
  type EncryptionKeyRecord,
  openStore,
  type Store,
} from "../store/mod.ts";

/** The password every test site is sealed with. */
export const TEST_PASSWORD = "correct horse battery staple";

/** Paths of a test site. */
export interface TestSite {
  root: string;
  dataDir: string;
  siteKey: string;
  masthead: string;
  passwordFile: string;
  /** A file holding a wrong password. */
  wrongPasswordFile: string;
}

/**
 * A test site that removes its folder at the end of the scope that holds it (`await using`):
 * declare it before anything that uses its files.
 */
export type DisposableTestSite = TestSite & AsyncDisposable;

/**
 * Runs `mle-admin` with `args`. The environment is pinned so that the developer's own
 * MLE_* variables never leak into a test.
 */
export async function admin(
  args: string[],
  env: Record<string, string> = {},
): Promise<RoleResult> {
  return await runRole("admin", args, {
    env: { MLE_DATA_DIR: "", MLE_SITE_PASSWORD: "", MLE_SITE_KEY: "", ...env },
  });
}

/** Describes a result for assertion messages. */
export function describe(result: RoleResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Makes a temporary folder with password files, without a site. */
export async function makeTestRoot(): Promise<DisposableTestSite> {
  const root = await Deno.makeTempDir({ prefix: "mle-admin-test-" });
  const site: DisposableTestSite = {
    root,
    dataDir: joinPath(root, "server"),
    siteKey: joinPath(root, "site", "license.pvk"),
    masthead: joinPath(root, "site", "masthead.json"),
    passwordFile: joinPath(root, "password"),
    wrongPasswordFile: joinPath(root, "wrong-password"),
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true });
    },
  };
  await Deno.writeTextFile(site.passwordFile, TEST_PASSWORD + "\n", { mode: 0o600 });
  await Deno.writeTextFile(site.wrongPasswordFile, "not the password\n", { mode: 0o600 });
  return site;
}

/**
 * The `init-site` command line that makes the site of `site`'s paths for a server on
 * 127.0.0.1:52311, without its password source.
 */
export function initSiteArgs(site: TestSite): string[] {
  return [
    "init-site",
    "--data-dir",
    site.dataDir,
    "--site-key",
    site.siteKey,
    "--masthead",
    site.masthead,
    "--server-url",
    "http://127.0.0.1:52311",
  ];
}

/** Makes a temporary site with `mle-admin init-site`; throws when that fails. */
export async function makeTestSite(): Promise<DisposableTestSite> {
  const site = await makeTestRoot();
  const result = await admin([
    ...initSiteArgs(site),
    "--site-name",
    "test site",
    "--password-file",
    site.passwordFile,
  ]);
  if (result.code !== 0) {
    await site[Symbol.asyncDispose]();
    throw new Error(`init-site failed: ${describe(result)}`);
  }
  return site;
}

/** The options that unlock a test site's key: `--site-key` and `--password-file`. */
export function siteKeyArgs(site: TestSite, passwordFile = site.passwordFile): string[] {
  return ["--site-key", site.siteKey, "--password-file", passwordFile];
}

/** {@linkcode siteKeyArgs} and the site's `--data-dir`: what a command that signs needs. */
export function signingArgs(site: TestSite, passwordFile = site.passwordFile): string[] {
  return [...siteKeyArgs(site, passwordFile), "--data-dir", site.dataDir];
}

/**
 * {@linkcode signingArgs} with the key of another site (`keySite`) on `site`'s data dir: what a
 * command that must refuse a foreign site key is given.
 */
export function foreignSigningArgs(site: TestSite, keySite: TestSite): string[] {
  return [...siteKeyArgs(keySite), "--data-dir", site.dataDir];
}

/**
 * Runs `mle-admin settings set <args>` signed with the test site's key, unlocked by
 * `passwordFile`.
 */
export async function settingsSet(
  site: TestSite,
  args: string[],
  passwordFile = site.passwordFile,
): Promise<RoleResult> {
  return await admin(["settings", "set", ...args, ...signingArgs(site, passwordFile)]);
}

/**
 * Generates a small MLE key on a test site with `encryption generate`, deployed now or left
 * pending; returns its key id. Throws when the command fails.
 */
export async function generateTestKey(site: TestSite, deployNow: boolean): Promise<string> {
  const result = await admin([
    "encryption",
    "generate",
    "--key-size",
    "min",
    ...(deployNow ? ["--deploy-now"] : []),
    ...signingArgs(site),
  ]);
  if (result.code !== 0) throw new Error(`encryption generate failed: ${describe(result)}`);
  return /[0-9a-f]{40}/.exec(result.stdout)![0];
}

/**
 * The seed's key generation line for a test site, with the small key size tests use and no
 * password source: `-reportencryption -generatekey -privateKeySize=min -deploynow=no|yes
 * -outkeypath=<outKeyPath> -sitePvkLocation=<site key>`.
 */
export function seedGenerateKeyArgs(
  site: TestSite,
  deployNow: boolean,
  outKeyPath: string,
): string[] {
  return [
    "-reportencryption",
    "-generatekey",
    "-privateKeySize=min",
    `-deploynow=${deployNow ? "yes" : "no"}`,
    `-outkeypath=${outKeyPath}`,
    `-sitePvkLocation=${site.siteKey}`,
  ];
}

/** The store of a test site's data dir, closed at the end of the scope that holds it (`using`). */
export function openTestStore(site: TestSite): Store & Disposable {
  const store = openStore(site.dataDir);
  return Object.assign(store, { [Symbol.dispose]: () => store.close() });
}

/** The names in a folder, sorted; empty when it does not exist. */
export async function listNames(path: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(path))).map((entry) => entry.name).sort();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** The `encryption status --json` of a test site. */
export async function statusJson(site: TestSite): Promise<{
  state: string;
  currentKid: string | null;
  pendingKid: string | null;
  keys: { kid: string; bits: number; role: string; privateKeyFile: boolean }[];
}> {
  const result = await admin(["encryption", "status", "--json", "--data-dir", site.dataDir]);
  if (result.code !== 0) throw new Error(`status failed: ${describe(result)}`);
  return JSON.parse(result.stdout);
}

/**
 * Registers a computer named `name` (public key `<name>-key`, no host identity) in `store`, as
 * the server does on a first registration.
 */
export async function registerTestComputer(
  store: Store,
  name: string,
  registeredAt = Date.now(),
): Promise<ComputerRecord> {
  return await store.registerComputer({
    publicKey: `${name}-key`,
    hostIdentity: null,
    hostname: name,
    registeredAt,
  });
}

/**
 * Registers a computer named `name` in a test site's store (see {@linkcode registerTestComputer}),
 * closing the store again so that the admin processes a test runs next see it.
 */
export async function registerSiteComputer(
  site: TestSite,
  name: string,
  registeredAt = Date.now(),
): Promise<ComputerRecord> {
  using store = openTestStore(site);
  return await registerTestComputer(store, name, registeredAt);
}

/** True when an `openssl` executable is on the PATH. */
export async function hasOpenssl(): Promise<boolean> {
  try {
    const { code } = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return code === 0;
  } catch {
    return false;
  }
}

/** A stored key record for the pure choosers' tests: `kid` padded to 40 characters with "0". */
export function keyRecord(kid: string, role: EncryptionKeyRecord["role"]): EncryptionKeyRecord {
  return {
    kid: kid.padEnd(40, "0"),
    spki: "",
    bits: 2048,
    role,
    createdAt: 0,
    deployedAt: null,
    retiredAt: null,
  };
}
