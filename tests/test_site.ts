/**
 * Test support: a site made with the real admin tool in a temporary folder (site key, masthead,
 * the server's data dir) and its MLE keys, generated, deployed or carried by USB as the seed does.
 *
 * @module
 */

import { verifyEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { verifyMasthead } from "../protocol/masthead.ts";
import { API } from "../protocol/paths.ts";
import { eventually } from "./eventually.ts";
import { freePort, type RoleResult, runRole } from "./run_role.ts";

/** The site password every test deployment uses (given through the environment, never argv). */
export const TEST_PASSWORD = "correct horse battery staple";
export const ADMIN_ENV = { MLE_SITE_PASSWORD: TEST_PASSWORD };
/** The password keys are sealed under for the USB transfer (`encryption export`/`import`). */
export const TRANSFER_PASSWORD = "a long transfer password";

/** The password an authenticating relay and its clients share for the manual key exchange. */
export const RELAY_SHARED_PASSWORD = "relay shared password, long enough to resist guessing";

/** Writes a credential file with mode 0600 (the roles refuse one others can read); its path. */
export async function secretFile(path: string, text: string): Promise<string> {
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  return path;
}

/**
 * Writes {@linkcode RELAY_SHARED_PASSWORD} to a 0600 file named `name` in the site's folder, for
 * an authenticating relay and its clients; its path.
 */
export async function relayPasswordFile(
  site: { root: string },
  name = "relay-password",
): Promise<string> {
  return await secretFile(`${site.root}/${name}`, `${RELAY_SHARED_PASSWORD}\n`);
}

/** Paths of a test site. */
export interface TestSite {
  root: string;
  serverDir: string;
  siteKey: string;
  masthead: string;
  serverPort: number;
  /**
   * Environment every admin call of the fixture adds (e.g. `MLE_DATABASE_URL` and its password
   * for a site whose store is PostgreSQL); absent for the data dir's SQLite store.
   */
  adminEnv?: Record<string, string>;
}

/**
 * The environment of an admin call that may be refused: the site and transfer passwords, and no
 * data dir from the test's own environment.
 */
const ADMIN_TRANSFER_ENV = {
  ...ADMIN_ENV,
  MLE_TRANSFER_PASSWORD: TRANSFER_PASSWORD,
  MLE_DATA_DIR: "",
};

/** Runs the admin tool with the site and transfer passwords, whatever its exit code. */
export async function adminResult(
  args: string[],
  env: Record<string, string> = {},
): Promise<RoleResult> {
  return await runRole("admin", args, { env: { ...ADMIN_TRANSFER_ENV, ...env } });
}

/** Runs the admin tool and fails the test with its output when it exits non-zero. */
export async function admin(
  args: string[],
  env: Record<string, string> = {},
): Promise<RoleResult> {
  const result = await runRole("admin", args, { env: { ...ADMIN_ENV, ...env } });
  if (result.code !== 0) {
    throw new Error(
      `mle-admin ${args.join(" ")} exited ${result.code}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

/**
 * Runs `mle-admin encryption import --from FOLDER --data-dir DATA_DIR EXTRA…` with the site and
 * transfer passwords (`env` overrides them), whatever its exit code.
 */
export async function importKeys(
  from: string,
  dataDir: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<RoleResult> {
  return await adminResult(
    ["encryption", "import", "--from", from, "--data-dir", dataDir, ...extra],
    env,
  );
}

/**
 * The seed's USB transfer: exports the server's keys and imports them into another data dir (a
 * decrypting relay's); fails the test with the tool's output when either step fails.
 */
export async function copyKeysByUsb(
  site: TestSite,
  targetDir: string,
): Promise<{ exported: RoleResult; imported: RoleResult }> {
  const usb = `${site.root}/usb`;
  const exported = await adminResult(
    ["encryption", "export", "--to", usb, "--data-dir", site.serverDir],
    site.adminEnv,
  );
  if (exported.code !== 0) throw new Error(`export exited ${exported.code}\n${exported.stderr}`);
  const imported = await importKeys(usb, targetDir);
  if (imported.code !== 0) throw new Error(`import exited ${imported.code}\n${imported.stderr}`);
  await Deno.remove(usb, { recursive: true });
  return { exported, imported };
}

/** A test site that removes its folder at the end of the scope that holds it (`await using`). */
export type DisposableSite = TestSite & AsyncDisposable;

/**
 * Creates a site (site key, masthead, server data dir) in a new temporary folder; `adminEnv`
 * goes to every admin call of the fixture for this site. Held with `await using`, the folder is
 * removed when the scope ends: declare the site first, so that the processes using it (declared
 * after it) are stopped before.
 */
export async function createSite(adminEnv?: Record<string, string>): Promise<DisposableSite> {
  const root = await Deno.makeTempDir({ prefix: "mle-test-" });
  const serverPort = freePort();
  const site: DisposableSite = {
    root,
    serverDir: `${root}/server`,
    siteKey: `${root}/site/license.pvk`,
    masthead: `${root}/site/masthead.json`,
    serverPort,
    ...(adminEnv ? { adminEnv } : {}),
    async [Symbol.asyncDispose]() {
      await Deno.remove(root, { recursive: true }).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
  };
  await Deno.mkdir(`${root}/site`, { mode: 0o700 });
  await admin([
    "init-site",
    "--data-dir",
    site.serverDir,
    "--site-key",
    site.siteKey,
    "--masthead",
    site.masthead,
    "--server-url",
    `http://127.0.0.1:${serverPort}`,
  ], adminEnv);
  return site;
}

/** A key of `mle-admin encryption status --json`, with the fields the tests read. */
export interface EncryptionStatusKey {
  kid: string;
  role: string;
  clients: number;
  privateKeyFile: boolean;
  privateKeyProblem: string | null;
  relays: { computerId: number; name: string; url: string; live: boolean; lastSeenAt: number }[];
}

/** `mle-admin encryption status --json`, with the fields the tests read. */
export interface EncryptionStatus {
  state: string;
  currentKid: string | null;
  keys: EncryptionStatusKey[];
  disabledAt: number | null;
  orphaned: { id: number }[];
}

/** The site's encryption status as `mle-admin encryption status --json` gives it for `dataDir`. */
export async function encryptionStatus(
  site: TestSite,
  dataDir = site.serverDir,
): Promise<EncryptionStatus> {
  const result = await admin(
    ["encryption", "status", "--json", "--data-dir", dataDir],
    site.adminEnv,
  );
  return JSON.parse(result.stdout);
}

/**
 * Signs client settings (`NAME=VALUE`) for every computer (`"all"`) or for one computer id, as
 * `mle-admin settings set` does; fails the test when the tool refuses.
 */
export async function setSettings(
  site: TestSite,
  target: "all" | number,
  settings: string[],
): Promise<void> {
  await admin([
    "settings",
    "set",
    ...settings,
    ...(target === "all" ? ["--all"] : ["--computer", String(target)]),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ], site.adminEnv);
}

/** Generates a 2048-bit MLE key with the seed's syntax; deploys it now or leaves it pending. */
export async function generateKey(site: TestSite, deployNow: boolean): Promise<string> {
  const result = await admin([
    "-reportencryption",
    "-generatekey",
    "-privateKeySize=min",
    `-deploynow=${deployNow ? "yes" : "no"}`,
    `-sitePvkLocation=${site.siteKey}`,
    "--data-dir",
    site.serverDir,
  ], site.adminEnv);
  const kid = /[0-9a-f]{40}/.exec(result.stdout)?.[0];
  if (!kid) throw new Error(`no key id in: ${result.stdout}`);
  return kid;
}

/**
 * Creates a site as {@link createSite} does, with an MLE key generated and deployed at once (the
 * seed's `-deploynow=yes`): the site most tests start from.
 */
export async function createSiteWithKey(
  adminEnv?: Record<string, string>,
): Promise<DisposableSite> {
  const site = await createSite(adminEnv);
  try {
    await generateKey(site, true);
  } catch (error) {
    await site[Symbol.asyncDispose]();
    throw error;
  }
  return site;
}

/**
 * The seed's order for a site with decrypting relays: a new key generated without deploying it,
 * then carried by USB to each relay's data dir; the key's id.
 */
export async function generateKeyForRelays(
  site: TestSite,
  decryptingRelayDirs: string[],
): Promise<string> {
  const kid = await generateKey(site, false);
  for (const dir of decryptingRelayDirs) await copyKeysByUsb(site, dir);
  return kid;
}

/** A site whose first key waits, undeployed, in one decrypting relay's data dir. */
export interface SiteWithRelayKey extends DisposableSite {
  /** The decrypting relay's data dir (`<root>/relay`), holding the key. */
  relayDir: string;
  /** The key's id. */
  kid: string;
}

/**
 * Creates a site as {@link createSite} does, then follows the seed's order for a decrypting relay
 * ({@link generateKeyForRelays}): a key generated without deploying it and carried by USB to the
 * relay's data dir, ready for the relay to start with `--decrypt`.
 */
export async function createSiteWithRelayKey(): Promise<SiteWithRelayKey> {
  const site = await createSite();
  try {
    const relayDir = `${site.root}/relay`;
    const kid = await generateKeyForRelays(site, [relayDir]);
    return Object.assign(site, { relayDir, kid });
  } catch (error) {
    await site[Symbol.asyncDispose]();
    throw error;
  }
}

/** The `mle-admin` arguments that deploy the site's pending key, in the seed's syntax. */
export function deployKeyArgs(site: TestSite): string[] {
  return [
    "-reportencryption",
    "-deploynow=yes",
    `-sitePvkLocation=${site.siteKey}`,
    "--data-dir",
    site.serverDir,
  ];
}

/** Deploys the pending key with the seed's syntax. */
export async function deployKey(site: TestSite): Promise<void> {
  await admin(deployKeyArgs(site), site.adminEnv);
}

/**
 * Waits until the server on `port` serves the site-signed certificate of `kid` (null: disabled);
 * the certificate document it serves.
 */
export async function waitForCertificate(
  site: TestSite,
  port: number,
  kid: string | null,
): Promise<unknown> {
  const { siteKey } = await verifyMasthead(JSON.parse(await Deno.readTextFile(site.masthead)));
  return await eventually(async () => {
    const response = await fetch(`http://127.0.0.1:${port}${API.encryptionCertificate}`);
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    const document = await response.json();
    const { certificate } = await verifyEncryptionCertificate(siteKey, document);
    const served = certificate.enabled ? certificate.kid : null;
    return served === kid ? document : undefined;
  }, `the server to serve the certificate of ${kid}`);
}

/**
 * A key rotation the documented way: a new key generated (pending), carried to the decrypting
 * relays, then deployed once they have told the server they hold it (`deploy` refuses before,
 * `ERR_KEY_NOT_ON_RELAY`; the server may be dead meanwhile: tried again for a minute).
 */
export async function rotateKey(site: TestSite, decryptingRelayDirs: string[]): Promise<void> {
  await generateKeyForRelays(site, decryptingRelayDirs);
  const deadline = Date.now() + 60_000;
  while (true) {
    try {
      await deployKey(site);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
