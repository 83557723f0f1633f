/**
 * `mle-admin encryption retire` and `mle-admin encryption disable`: the two acts that can make
 * reports undeliverable, so each refuses while it would hurt someone and says whom, unless forced.
 *
 * - retire: a retired key is no longer loaded by servers, so reports still encrypted to it (in
 *   relay spools, offline clients' queues) can no longer be decrypted. Refused while computers sent
 *   reports encrypted to it within a window (default 7 days); never for the current key.
 * - disable: signs the "disabled" certificate; clients whose level is required then keep their
 *   reports queued and stop reporting (orphaned, seed 000). Refused while any active computer's
 *   level is required.
 *
 * Both are signed acts: the site key and its password authenticate them, after every refusal that
 * needs no password has been made.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning, UsageError } from "../cli/output.ts";
import { signEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import { recordSupersedingDocument } from "./_numbered_documents.ts";
import { publishRevocations } from "./_revocations.ts";
import type { EncryptionKeyRecord } from "../store/mod.ts";
import { parseWholeDays, TOOL } from "./_args.ts";
import { describeComputers, disabledSince, requiredComputers } from "./_encryption_levels.ts";
import { formatTime } from "./_format.ts";
import {
  openExistingStore,
  openSiteKey,
  requireDataDirMasthead,
  type SiteKeySource,
} from "./_site.ts";

/** The default window of `retire`, in days. */
export const DEFAULT_RETIRE_WINDOW_DAYS = 7;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What `retire` needs. */
export interface RetireRequest {
  dataDir: string;
  kid: string;
  windowDays: number;
  force: boolean;
  site: SiteKeySource;
}

/** What `disable` needs. */
export interface DisableRequest {
  dataDir: string;
  force: boolean;
  site: SiteKeySource;
}

/**
 * Finds a key by its id or a unique prefix of at least 6 characters, for the act `verb`.
 *
 * @throws {UsageError} For something that is no key id (prefix).
 * @throws {CliError} When no key or several keys match.
 */
export function findKeyByPrefix(
  keys: readonly EncryptionKeyRecord[],
  kid: string,
  verb: string,
): EncryptionKeyRecord {
  const wanted = kid.trim().toLowerCase();
  if (!/^[0-9a-f]{6,40}$/.test(wanted)) {
    throw new UsageError(
      `Cannot use key id "${kid}": expected 40 hexadecimal characters (or a prefix of 6 or more)`,
    );
  }
  const matches = keys.filter((key) => key.kid.startsWith(wanted));
  if (matches.length === 0) {
    throw new CliError(`Cannot ${verb} key ${wanted}: this data dir does not know it`, {
      hint: "see the keys with: mle-admin encryption status",
    });
  }
  if (matches.length > 1) {
    throw new CliError(
      `Cannot ${verb} key ${wanted}: the prefix matches ${matches.length} keys`,
      { hint: "give more characters of the key id" },
    );
  }
  return matches[0];
}

/**
 * Parses `--window DAYS`.
 *
 * @throws {UsageError} For anything but a whole number of days from 0 to 3650.
 */
export function parseWindowDays(value: string | undefined): number {
  return parseWholeDays("window", value, DEFAULT_RETIRE_WINDOW_DAYS);
}

/** Retires a key that is not current, unless computers used it within the window. */
export async function retireEncryptionKey(request: RetireRequest): Promise<number> {
  const store = await openExistingStore(request.dataDir);
  try {
    const masthead = await requireDataDirMasthead(request.dataDir, store);
    const record = findKeyByPrefix(await store.listEncryptionKeys(), request.kid, "retire");
    if (record.role === "retired") {
      // Published again, in case the act that retired it stopped before publishing.
      const site = await openSiteKey(request.site, "--site-key", masthead);
      await publishRevocations(store, site.privateKey);
      console.log(
        `Key ${record.kid} is already retired; the signed revocation list names it (published ` +
          "again)",
      );
      return EXIT.ok;
    }
    if (record.role === "current") {
      throw new CliError(
        `Cannot retire key ${record.kid}: it is the current key, clients are told to encrypt to it`,
        {
          hint: "deploy another key first (mle-admin encryption generate, then deploy), " +
            "or turn encryption off (mle-admin encryption disable)",
        },
      );
    }
    const now = Date.now();
    const usage = await store.listKeyUsage(record.kid, now - request.windowDays * DAY_MS);
    const users = new Set(usage.map((u) => u.computerId));
    const lines = usage.slice(0, 20).map((u) =>
      `  computer ${u.computerId}: ${u.reports} report(s), the last at ${formatTime(u.lastAt)}`
    );
    if (usage.length > 20) lines.push(`  … and ${usage.length - 20} more`);
    if (users.size > 0 && !request.force) {
      throw new CliError(
        `Cannot retire key ${record.kid}: ${users.size} computer(s) used it within the last ` +
          `${request.windowDays} day(s):\n${lines.join("\n")}`,
        {
          hint: "wait until they report with the current key, or give --force (reports still " +
            "encrypted to this key, in relay spools or offline clients, can then no longer be " +
            "decrypted)",
        },
      );
    }
    const site = await openSiteKey(request.site, "--site-key", masthead);
    if (!(await store.retireEncryptionKey(record.kid, Date.now()))) {
      throw new CliError(`Cannot retire key ${record.kid}: its role changed meanwhile; try again`);
    }
    // Decrypting relays learn it from the signed revocation list, and stop using the key.
    await publishRevocations(store, site.privateKey);
    if (users.size > 0) {
      printWarning(
        TOOL,
        `retired although ${users.size} computer(s) used it recently:\n${lines.join("\n")}`,
      );
    }
    console.log(
      `Retired key ${record.kid}: servers stop loading it within seconds, decrypting relays ` +
        "within their revocation interval (the signed revocation list names it), and reports " +
        "still encrypted to it can no longer be decrypted\n" +
        `Its private key file stays in "Encryption Keys"; delete it there (and on decrypting ` +
        "relays and DSA servers, which keep their own copy) once you are sure no report needs it",
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/** Turns encryption off, unless computers whose level is required would be orphaned. */
export async function disableEncryption(request: DisableRequest): Promise<number> {
  const store = await openExistingStore(request.dataDir);
  try {
    const masthead = await requireDataDirMasthead(request.dataDir, store);
    const keys = await store.listEncryptionKeys();
    const current = keys.find((key) => key.role === "current");
    if (!current) {
      const since = await disabledSince(store);
      console.log(
        since !== null
          ? `Encryption is already disabled (since ${formatTime(since)}); nothing to do`
          : "Encryption is not enabled (no key was ever deployed); nothing to do",
      );
      return EXIT.ok;
    }
    const required = await requiredComputers(store);
    if (required.length > 0 && !request.force) {
      throw new CliError(
        `Cannot disable encryption: ${required.length} computer(s) require it and would be ` +
          `orphaned (they would keep their reports queued and stop reporting):\n${
            describeComputers(required)
          }`,
        {
          hint: "set their level first (mle-admin settings set " +
            "_BESClient_Report_Encryption=optional --computer ID … --site-key FILE), or give " +
            "--force to disable anyway",
        },
      );
    }
    const site = await openSiteKey(request.site, "--site-key", masthead);
    const now = Date.now();
    await recordSupersedingDocument(
      "encryption certificate",
      now,
      (version) => signEncryptionCertificate(site.privateKey, { enabled: false, ...version }),
      (signer) => store.disableEncryption(signer, now),
    );
    if (required.length > 0) {
      printWarning(
        TOOL,
        `${required.length} computer(s) require encryption and are now orphaned: they keep ` +
          `their reports queued until a key is deployed again or their level changes:\n${
            describeComputers(required)
          }`,
      );
    }
    console.log(
      "Disabled encryption: clients are told not to encrypt from their next cycle\n" +
        `Key ${current.kid} is kept (role previous) to decrypt reports already encrypted to it; ` +
        `enable it again with: mle-admin encryption deploy --kid ${current.kid} --site-key FILE`,
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}
