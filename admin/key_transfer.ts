/**
 * The key transfer file and `mle-admin encryption export`: the seed's USB key, done so that
 * a lost stick gives nothing away and a swapped one is noticed.
 *
 * Export writes `<key id>.mle-key.json`: the private key (PKCS#8) sealed under a transfer password
 * (PBKDF2-SHA256, at least 600,000 iterations, then AES-256-GCM: `keystore/password_seal.ts`).
 * The public key, its size, its role, the site's masthead and, when the key is deployed, its
 * site-signed certificate travel beside it as the seal's authenticated data: changing any of them
 * makes the password check fail. The command prints the key's fingerprint (SHA-256 of the public
 * key) for the operator to compare on the other side.
 *
 * Import is `key_import.ts`.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning } from "../cli/output.ts";
import { readPassword } from "../cli/password.ts";
import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import { exportSpki, importEncryptionPrivateKey, keyIdOfSpki } from "../envelope/encryption_key.ts";
import { decodePem, encodePem } from "../envelope/pem.ts";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { type PasswordSealed, sealWithPassword } from "../keystore/password_seal.ts";
import {
  createSecretFile,
  ensurePrivateDir,
  joinPath,
  readSecretFile,
} from "../keystore/secure_file.ts";
import { type EncryptionKeyRecord, type Store } from "../store/mod.ts";
import { TOOL } from "./_args.ts";
import { exists, loadDataDirMasthead, MASTHEAD_FILE, openExistingStore } from "./_site.ts";
import { findKeyByPrefix } from "./encryption_lifecycle.ts";

/** Format name of a transfer file (and of its seal). */
export const TRANSFER_FORMAT = "mle-key-transfer/1";
/** Environment variable holding the transfer password. */
export const TRANSFER_PASSWORD_ENV = "MLE_TRANSFER_PASSWORD";
/** Fewest characters accepted for a new transfer password. */
export const MIN_TRANSFER_PASSWORD_LENGTH = 10;
/** Suffix of a transfer file. */
export const TRANSFER_SUFFIX = ".mle-key.json";

/** Where the transfer password comes from. */
export interface TransferPasswordSource {
  file: string | undefined;
  argv: string | undefined;
}

/** What travels authenticated beside the sealed private key. */
export interface TransferPublicData {
  format: typeof TRANSFER_FORMAT;
  kid: string;
  bits: number;
  /** The key's role where it was exported. */
  role: string;
  /** SubjectPublicKeyInfo DER, base64url. */
  spki: string;
  fingerprint: string;
  /** The site-signed certificate of this key (JSON text) when it was deployed, else null. */
  certificate: string | null;
  /** The site's signed masthead (JSON text), or null when the data dir had none. */
  masthead: string | null;
  exportedAt: number;
}

/** A transfer file as written. The top-level copies are for people; import trusts the seal's. */
export interface TransferFile {
  format: typeof TRANSFER_FORMAT;
  kid: string;
  bits: number;
  role: string;
  fingerprint: string;
  publicKey: string;
  sealed: PasswordSealed;
}

/** What `export` needs. */
export interface ExportRequest {
  dataDir: string;
  to: string;
  kid: string | undefined;
  password: TransferPasswordSource;
}

/**
 * The fingerprint people compare: SHA-256 of the public key (SPKI DER), as 16 groups of 4 hex
 * digits.
 *
 * @example
 * ```ts ignore
 * console.log(await keyFingerprint(spki)); // "SHA256:3f2a 91c0 …"
 * ```
 */
export async function keyFingerprint(spki: Uint8Array<ArrayBuffer>): Promise<string> {
  const hex = new Uint8Array(await crypto.subtle.digest("SHA-256", spki)).toHex();
  return `SHA256:${hex.match(/.{4}/g)!.join(" ")}`;
}

/** Writes a key of a server data dir, sealed under a transfer password, into `request.to`. */
export async function exportEncryptionKey(request: ExportRequest): Promise<number> {
  const store = await openExistingStore(request.dataDir);
  let record: EncryptionKeyRecord;
  let certificate: string | null;
  let masthead: string | null;
  try {
    record = chooseKeyToExport(await store.listEncryptionKeys(), request.kid);
    certificate = await certificateOf(store, record.kid);
    masthead = (await loadDataDirMasthead(request.dataDir, store)) === null
      ? null
      : await mastheadText(request.dataDir, store);
  } finally {
    store.close();
  }
  const target = joinPath(request.to, `${record.kid}${TRANSFER_SUFFIX}`);
  if (await exists(target)) {
    throw new CliError(`Cannot export to "${target}": a file already exists there`, {
      hint: "nothing is ever overwritten; give another --to folder or move the old file away",
    });
  }
  const keyPath = joinPath(encryptionKeysDir(request.dataDir), `${record.kid}.pvk`);
  if (!(await exists(keyPath))) {
    throw new CliError(`Cannot export key ${record.kid}: its private key file is not here`, {
      hint: `expected "${keyPath}"; export it from the server that generated it`,
    });
  }
  const pkcs8 = decodePem("PRIVATE KEY", new TextDecoder().decode(await readSecretFile(keyPath)));
  try {
    const { publicKey, bits } = await importEncryptionPrivateKey(pkcs8);
    const spki = await exportSpki(publicKey);
    if ((await keyIdOfSpki(spki)) !== record.kid || encodeBase64Url(spki) !== record.spki) {
      throw new CliError(
        `Cannot export key ${record.kid}: the file "${keyPath}" holds another key`,
      );
    }
    const fingerprint = await keyFingerprint(spki);
    const password = await readTransferPassword(request.password, true);
    const publicData: TransferPublicData = {
      format: TRANSFER_FORMAT,
      kid: record.kid,
      bits,
      role: record.role,
      spki: record.spki,
      fingerprint,
      certificate,
      masthead,
      exportedAt: Date.now(),
    };
    const sealed = await sealWithPassword(
      TRANSFER_FORMAT,
      pkcs8,
      JSON.stringify(publicData),
      password,
    );
    const file: TransferFile = {
      format: TRANSFER_FORMAT,
      kid: record.kid,
      bits,
      role: record.role,
      fingerprint,
      publicKey: encodePem("PUBLIC KEY", spki),
      sealed,
    };
    if (!(await exists(request.to))) await ensurePrivateDir(request.to);
    await createSecretFile(target, JSON.stringify(file, null, 2) + "\n");
    console.log([
      `Exported encryption key ${record.kid} (${bits}-bit RSA-OAEP, ${record.role}${
        certificate ? ", with its certificate" : ""
      })`,
      `  file:        ${target} (the private key is sealed under the transfer password)`,
      `  fingerprint: ${fingerprint}`,
      "Compare the fingerprint when importing on the decrypting relay or DSA server:",
      `  mle-admin encryption import --from ${request.to} --data-dir DIR`,
    ].join("\n"));
    return EXIT.ok;
  } finally {
    pkcs8.fill(0);
  }
}

/**
 * The key to export: the one named, else the pending one, else the current one.
 *
 * @throws {CliError} When there is none, or the named one is retired.
 */
export function chooseKeyToExport(
  keys: readonly EncryptionKeyRecord[],
  kid: string | undefined,
): EncryptionKeyRecord {
  if (kid !== undefined) {
    const record = findKeyByPrefix(keys, kid, "export");
    if (record.role === "retired") {
      throw new CliError(`Cannot export key ${record.kid}: it is retired`, {
        hint: "export the current or pending key instead",
      });
    }
    return record;
  }
  const record = keys.find((key) => key.role === "pending") ??
    keys.find((key) => key.role === "current");
  if (!record) {
    throw new CliError("Cannot export: this data dir has no pending or current key", {
      hint: "generate one first: mle-admin encryption generate --site-key FILE",
    });
  }
  return record;
}

/** Reads the transfer password (a new one is confirmed and must be long enough). */
export async function readTransferPassword(
  source: TransferPasswordSource,
  isNew: boolean,
): Promise<string> {
  const password = await readPassword({
    file: source.file,
    argv: source.argv,
    envName: TRANSFER_PASSWORD_ENV,
    prompt: isNew ? "New transfer password: " : "Transfer password: ",
    confirm: isNew,
    warn: (message) => printWarning(TOOL, message),
  });
  if (isNew && password.length < MIN_TRANSFER_PASSWORD_LENGTH) {
    throw new CliError(
      `Cannot use the transfer password: it has fewer than ${MIN_TRANSFER_PASSWORD_LENGTH} characters`,
      { exitCode: EXIT.usage, hint: "whoever finds the stick can try passwords offline" },
    );
  }
  return password;
}

/** The certificate document of `kid` when it is the deployed one, else null. */
async function certificateOf(store: Store, kid: string): Promise<string | null> {
  const text = await store.getDocument("encryption-certificate");
  if (text === null) return null;
  try {
    const body = JSON.parse(
      new TextDecoder().decode(decodeBase64Url(JSON.parse(text).payload)),
    );
    return body?.enabled === true && body.kid === kid ? text : null;
  } catch {
    return null;
  }
}

async function mastheadText(dataDir: string, store: Store): Promise<string> {
  return (await store.getDocument("masthead")) ??
    (await Deno.readTextFile(joinPath(dataDir, MASTHEAD_FILE))).trim();
}

/**
 * Reads a transfer file's text (from a USB stick: anyone may have written it) before any password
 * is asked for: JSON naming this format and the key `kid`, with a sealed part.
 *
 * @throws {CliError} Naming the file, when it is not such a file.
 */
export function readTransferFile(text: string, kid: string, path: string): TransferFile {
  let file: TransferFile;
  try {
    file = JSON.parse(text);
  } catch {
    throw new CliError(`Cannot import "${path}": it is not JSON`);
  }
  if (
    file?.format !== TRANSFER_FORMAT || file.kid !== kid || typeof file.sealed !== "object" ||
    file.sealed === null
  ) {
    throw new CliError(`Cannot import "${path}": not a key transfer file of this format`);
  }
  return file;
}
