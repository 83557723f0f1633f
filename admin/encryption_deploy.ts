/**
 * `mle-admin encryption deploy` (and `-reportencryption -deploynow=yes`): the pending key (or the
 * one named) checked against its private key file here and against the running servers sharing
 * the database, then its encryption certificate signed with the site key and recorded.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning } from "../cli/output.ts";
import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import { exportSpki, keyIdOfSpki } from "../envelope/encryption_key.ts";
import { encryptionKeysDir, readEncryptionKeyFile } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import type { SiteKey } from "../keystore/site_key.ts";
import { signEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import type { EncryptionKeyRecord, Store } from "../store/mod.ts";
import { TOOL } from "./_args.ts";
import { encryptionState } from "./_encryption_state.ts";
import { requireLiveServersHold } from "./_key_holders.ts";
import { requireLiveRelaysHold } from "./_relay_key_holders.ts";
import { recordSupersedingDocument } from "./_numbered_documents.ts";
import {
  exists,
  openExistingStore,
  openSiteKey,
  requireDataDirMasthead,
  type SiteKeySource,
} from "./_site.ts";
import { findKeyByPrefix } from "./encryption_lifecycle.ts";

/** What `deploy` needs, from either syntax. */
export interface DeployRequest {
  dataDir: string;
  kid: string | undefined;
  site: SiteKeySource;
  /** How the site key option is spelled in the syntax used, for messages. */
  siteKeyOption: string;
  /** Deploy although a live server lacks the key (`_key_holders.ts`). */
  force?: boolean;
}

/**
 * Deploys the pending key (or `kid`): checks that its private key file is in this data dir, then
 * signs its encryption certificate with the site key.
 */
export async function deployEncryptionKey(request: DeployRequest): Promise<number> {
  const store = await openExistingStore(request.dataDir);
  try {
    const masthead = await requireDataDirMasthead(request.dataDir, store);
    const keys = await store.listEncryptionKeys();
    const record = chooseKeyToDeploy(keys, request.kid);
    if (record.role === "current") {
      console.log(`Key ${record.kid} is already deployed: clients encrypt to it; nothing to do`);
      return EXIT.ok;
    }
    await checkPrivateKeyFile(request.dataDir, record);
    const site = await openSiteKey(request.site, request.siteKeyOption, masthead);
    await deployKey(store, request.dataDir, site, record.kid, request.force === true);
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/**
 * Picks the key to deploy: the pending one, or the one `kid` names (exactly or by a unique
 * prefix of at least 6 characters).
 *
 * @throws {CliError} When nothing is pending, or `kid` names no key, several, or a retired one.
 */
export function chooseKeyToDeploy(
  keys: readonly EncryptionKeyRecord[],
  kid: string | undefined,
): EncryptionKeyRecord {
  if (kid === undefined) {
    const pending = keys.find((key) => key.role === "pending");
    if (!pending) {
      const current = keys.find((key) => key.role === "current");
      throw new CliError(
        current
          ? `Cannot deploy: no key is pending (key ${current.kid} is already deployed)`
          : "Cannot deploy: no key is pending",
        {
          hint: "generate one first: mle-admin encryption generate --site-key FILE " +
            "(or -reportencryption -generatekey), or name an older key with --kid",
        },
      );
    }
    return pending;
  }
  const record = findKeyByPrefix(keys, kid, "deploy");
  if (record.role === "retired") {
    throw new CliError(`Cannot deploy key ${record.kid}: it is retired`, {
      hint: "generate a new key instead: mle-admin encryption generate --site-key FILE",
    });
  }
  return record;
}

/** Checks that a key's private file is here and holds that key: what the DSA "Deploy key" checks. */
async function checkPrivateKeyFile(dataDir: string, record: EncryptionKeyRecord): Promise<void> {
  const folder = encryptionKeysDir(dataDir);
  const path = joinPath(folder, `${record.kid}.pvk`);
  if (!(await exists(path))) {
    throw new CliError(
      `Cannot deploy key ${record.kid}: its private key file is not in "${folder}"`,
      {
        hint: `copy ${record.kid}.pvk (for example from the USB key -outkeypath wrote) into ` +
          `"${folder}" with mode 0600, then deploy again`,
      },
    );
  }
  const loaded = await readEncryptionKeyFile(path, record.kid);
  const spki = await exportSpki(loaded.publicKey);
  if (
    encodeBase64Url(spki) !== record.spki ||
    (await keyIdOfSpki(decodeBase64Url(record.spki))) !== record.kid
  ) {
    throw new CliError(
      `Cannot deploy key ${record.kid}: the key file "${path}" does not match the stored key`,
    );
  }
}
/**
 * Deploys a key this data dir knows: checks its private key file and the live servers, signs its
 * certificate with the site key and records it, superseding the served one.
 */
export async function deployKey(
  store: Store,
  dataDir: string,
  site: SiteKey,
  kid: string,
  force: boolean,
): Promise<void> {
  const keys = await store.listEncryptionKeys();
  const record = keys.find((key) => key.kid === kid);
  if (!record) throw new CliError(`Cannot deploy key ${kid}: this data dir does not know it`);
  await checkPrivateKeyFile(dataDir, record);
  await requireLiveServersHold(store, kid, {
    force,
    warn: (message) => printWarning(TOOL, message),
  });
  await requireLiveRelaysHold(store, kid, {
    force,
    warn: (message) => printWarning(TOOL, message),
  });
  const previous = keys.find((key) => key.role === "current" && key.kid !== kid);
  const now = Date.now();
  await recordSupersedingDocument(
    "encryption certificate",
    now,
    (version) =>
      signEncryptionCertificate(site.privateKey, {
        enabled: true,
        kid,
        spki: record.spki,
        bits: record.bits,
        ...version,
      }),
    (signer) => store.deployEncryptionKey(kid, signer, now),
  );
  const lines = [`Deployed encryption key ${kid}: clients encrypt to it from their next report`];
  if (previous) {
    lines.push(
      `Previous key ${previous.kid} stays in "Encryption Keys" to decrypt reports already ` +
        "encrypted to it",
    );
  }
  lines.push(`State: ${encryptionState(await store.listEncryptionKeys())}`);
  console.log(lines.join("\n"));
}
