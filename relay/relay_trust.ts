/**
 * What `mle-relay run` trusts and checks, set up from its flags: the pinned masthead (site key),
 * the revocation list and the encryption certificate every relay keeps, and, with
 * `--authenticating`, the passwords and admitted clients of the manual key exchange.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { UsageError } from "../cli/output.ts";
import { readPassword, readPasswordFile } from "../cli/password.ts";
import { secretVariable } from "../cli/secret_environment.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { RelayAuthenticator } from "./authenticator.ts";
import { AuthorizedClients } from "./authorized_clients.ts";
import { PinnedMasthead } from "./pinned_masthead.ts";
import { RelayPasswords, SHORT_PASSWORD_LENGTH } from "./relay_passwords.ts";
import { RevocationList } from "./revocation_list.ts";
import { ServerCertificate } from "./server_certificate.ts";

/** The environment variable holding an authenticating relay's shared password. */
export const SHARED_PASSWORD_ENV = "MLE_RELAY_SHARED_PASSWORD";

/** The flags this setup reads. */
export interface RelayTrustSettings {
  dataDir: string;
  parentUrl: string;
  /** `--masthead FILE`: the site's masthead, instead of trusting the parent's on first start. */
  mastheadFile?: string;
  /** `--revocation-interval`, in milliseconds. */
  revocationIntervalMs: number;
  /** `--authenticating`. */
  authenticating: boolean;
  /** `--password-file`: the shared password (else `MLE_RELAY_SHARED_PASSWORD`, else a prompt). */
  passwordFile?: string;
  /** `--one-time-passwords`. */
  oneTimePasswordsFile?: string;
  /** `--trust-relay`: public keys of authenticating relays below whose vouchers admit a client. */
  trustedRelayKeys?: string[];
}

/** What the relay's app and lifecycle get. */
export interface RelayTrust {
  /** The pinned masthead: the site key, and the site's servers (the parents of last resort). */
  masthead: PinnedMasthead;
  revocations: RevocationList;
  /** The newest encryption certificate verified against the pinned masthead. */
  certificate: ServerCertificate;
  authenticator?: RelayAuthenticator;
  /** (authenticating) The admitted clients, whose keys check their reports and uploads. */
  authorized?: AuthorizedClients;
}

/**
 * Opens the masthead pin, the revocation list and (authenticating) the key exchange.
 *
 * @throws {UsageError} When an authenticating relay has no password from any source.
 */
export async function openRelayTrust(
  settings: RelayTrustSettings,
  log: Logger,
): Promise<RelayTrust> {
  // Passwords first: a misuse should stop the relay before it touches anything else.
  const passwords = settings.authenticating
    ? await RelayPasswords.open({
      sharedPassword: await sharedPassword(settings),
      oneTimePasswordsFile: settings.oneTimePasswordsFile,
      dataDir: settings.dataDir,
      onReady: (count) => log.info("one-time passwords ready", { count }),
    })
    : undefined;
  const masthead = await PinnedMasthead.open({
    dataDir: settings.dataDir,
    mastheadFile: settings.mastheadFile,
    log,
  });
  const revocations = await RevocationList.open({
    dataDir: settings.dataDir,
    parentUrl: settings.parentUrl,
    masthead,
    log,
    intervalMs: settings.revocationIntervalMs,
  });
  // The pinned site key, else the parent's masthead pinned now (null while it cannot be had).
  const siteKey = async (): Promise<CryptoKey | null> => {
    if (masthead.siteKey) return masthead.siteKey;
    try {
      return (await masthead.pinFromParent(settings.parentUrl)).siteKey;
    } catch (error) {
      if (error instanceof ParentUnreachableError) return null;
      throw error;
    }
  };
  const certificate = new ServerCertificate({
    parentUrl: settings.parentUrl,
    dataDir: settings.dataDir,
    siteKey,
    log,
  });
  if (!passwords) return { masthead, revocations, certificate };

  const authorized = await AuthorizedClients.open(settings.dataDir);
  const oneTime = await passwords.oneTimePasswordCount();
  log.info("authenticating: registrations need the manual key exchange", {
    admittedClients: authorized.size,
    oneTimePasswords: oneTime.total,
  });
  if (oneTime.short > 0) {
    log.warn(
      `${oneTime.short} one-time password(s) are shorter than ${SHORT_PASSWORD_LENGTH} ` +
        "characters: someone who records a key exchange can guess a short one offline (each " +
        "guess costs a slow derivation, but short passwords are few)",
    );
  }
  return {
    masthead,
    revocations,
    certificate,
    authorized,
    authenticator: new RelayAuthenticator({
      authorized,
      passwords,
      revocations,
      log,
      trustedRelayKeys: settings.trustedRelayKeys,
    }),
  };
}

async function sharedPassword(settings: RelayTrustSettings): Promise<string | undefined> {
  if (settings.passwordFile !== undefined) return await readPasswordFile(settings.passwordFile);
  const fromEnv = secretVariable(SHARED_PASSWORD_ENV);
  if (fromEnv) return fromEnv;
  if (settings.oneTimePasswordsFile !== undefined) return undefined;
  if (!Deno.stdin.isTerminal()) {
    throw new UsageError(
      "Cannot run an authenticating relay without a password",
      `give --password-file FILE, set ${SHARED_PASSWORD_ENV}, or give --one-time-passwords FILE`,
    );
  }
  return await readPassword({
    envName: SHARED_PASSWORD_ENV,
    prompt: "Shared password of this authenticating relay: ",
    confirm: true,
    warn: () => {},
  });
}
