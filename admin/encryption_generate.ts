/**
 * `mle-admin encryption generate` (and `-reportencryption -generatekey`): a new MLE key pair, its
 * private key file (and an optional clear copy for a USB transfer), recorded as pending, and
 * deployed at once when asked.
 *
 * @module
 */

import { CliError, printWarning, UsageError } from "../cli/output.ts";
import { EXIT } from "../cli/exit_codes.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import {
  encryptionKeyId,
  type EncryptionKeySize,
  exportSpki,
  generateEncryptionKeyPair,
  parseEncryptionKeySize,
} from "../envelope/encryption_key.ts";
import {
  encryptionKeyFileText,
  encryptionKeysDir,
  writeEncryptionKeyFile,
} from "../keystore/encryption_keys.ts";
import { createSecretFile, ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { TOOL } from "./_args.ts";
import { encryptionState } from "./_encryption_state.ts";
import { withProgress } from "./_progress.ts";
import { exists, openExistingStore, openSiteKey, requireDataDirMasthead } from "./_site.ts";
import { deployKey, type DeployRequest } from "./encryption_deploy.ts";

/**
 * What `generate` needs, from either syntax: what `deploy` needs but the key (`force` applies
 * with `deployNow`).
 */
export interface GenerateRequest extends Omit<DeployRequest, "kid"> {
  bits: EncryptionKeySize;
  deployNow: boolean;
  outKeyPath: string | undefined;
}

/**
 * Generates a new MLE key: opens the site key first (a wrong password writes nothing), writes the
 * private key file (and its copy), records the key as pending, and deploys it when asked.
 */
export async function generateEncryptionKey(request: GenerateRequest): Promise<number> {
  const store = await openExistingStore(request.dataDir);
  try {
    const masthead = await requireDataDirMasthead(request.dataDir, store);
    const pending = (await store.listEncryptionKeys()).find((key) => key.role === "pending");
    if (pending) {
      throw new CliError(
        `Cannot generate a key: key ${pending.kid} is already pending`,
        {
          hint: `deploy it first (mle-admin encryption deploy --site-key FILE, or ` +
            `mle-admin -reportencryption -deploynow=yes -sitePvkLocation=FILE), then generate`,
        },
      );
    }
    if (request.outKeyPath !== undefined) await checkOutKeyPath(request.outKeyPath);

    const site = await openSiteKey(request.site, request.siteKeyOption, masthead);

    const pair = await withProgress(
      `Generating a ${request.bits}-bit RSA key…`,
      () => generateEncryptionKeyPair(request.bits),
    );
    const kid = await encryptionKeyId(pair.publicKey);
    const spki = encodeBase64Url(await exportSpki(pair.publicKey));
    const text = await encryptionKeyFileText(pair.privateKey, kid);

    // Write the files, then record the key; on any failure remove what this run created, so
    // that running the command again starts clean.
    const created: string[] = [];
    let keyFile: string;
    let copyFile: string | undefined;
    try {
      keyFile = await writeEncryptionKeyFile(encryptionKeysDir(request.dataDir), kid, text);
      created.push(keyFile);
      if (request.outKeyPath !== undefined) {
        if (!(await exists(request.outKeyPath))) await ensurePrivateDir(request.outKeyPath);
        copyFile = joinPath(request.outKeyPath, `${kid}.pvk`);
        await createSecretFile(copyFile, text);
        created.push(copyFile);
      }
      await store.addEncryptionKey({
        kid,
        spki,
        bits: request.bits,
        role: "pending",
        createdAt: Date.now(),
        deployedAt: null,
        retiredAt: null,
      });
    } catch (error) {
      for (const path of created) await Deno.remove(path).catch(() => {});
      throw error;
    }

    const lines = [
      `Generated encryption key ${kid} (${request.bits}-bit RSA-OAEP)`,
      `  private key: ${keyFile}`,
    ];
    if (copyFile !== undefined) lines.push(`  copy:        ${copyFile}`);
    console.log(lines.join("\n"));
    if (copyFile !== undefined) printWarning(TOOL, unencryptedCopyWarning(copyFile, kid));

    if (request.deployNow) {
      await deployKey(store, request.dataDir, site, kid, request.force === true);
      return EXIT.ok;
    }
    console.log(
      `State: ${encryptionState(await store.listEncryptionKeys())}: no client uses the key yet.\n` +
        `Next: copy ${kid}.pvk into the "Encryption Keys" folder of each decrypting relay and ` +
        `DSA server, then deploy it: mle-admin encryption deploy --site-key FILE`,
    );
    return EXIT.ok;
  } finally {
    store.close();
  }
}

/**
 * What `-outkeypath` (`--out-key-path`) must say: the copy is the private key in clear, and a
 * sealed one exists.
 */
export function unencryptedCopyWarning(copyFile: string, kid: string): string {
  return `"${copyFile}" is the private key, unencrypted: whoever reads it can decrypt every ` +
    `report sent to key ${kid}; prefer a copy sealed under a transfer password: ` +
    `mle-admin encryption export --to DIR (and delete this file once the key is imported)`;
}
async function checkOutKeyPath(path: string): Promise<void> {
  try {
    const info = await Deno.stat(path);
    if (!info.isDirectory) {
      throw new CliError(`Cannot write the key copy to "${path}": it is not a folder`, {
        hint: "give the folder (for example the USB key's mount point) that receives <key id>.pvk",
      });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // created when the key is written
    throw error;
  }
}

/**
 * Parses a key size for either syntax.
 *
 * @throws {UsageError} Naming the accepted sizes.
 */
export function parseKeySize(value: string): EncryptionKeySize {
  try {
    return parseEncryptionKeySize(value);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
