/**
 * `mle-admin encryption import`: installs a key exported by `mle-admin encryption export`
 * (`key_transfer.ts`, which describes the transfer file).
 *
 * Import opens the seal, checks that the private key is the key its id names, shows the
 * fingerprint, and installs the key into the target data dir's `Encryption Keys` folder (0600):
 * - a server data dir (it has a database, or `--server` makes one for a DSA server): the key is
 *   also recorded in the store, so that the server loads it; `--deploy` then signs its certificate
 *   there (the seed's "Deploy key" step on a DSA server);
 * - any other folder (a decrypting relay's data dir): the key file, and the site's masthead as
 *   `masthead.json` when the folder has none, which the relay pins to check certificates with.
 * The seed's plain `<key id>.pvk` (from `-outkeypath`) is accepted too; it carries no password and
 * no masthead.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning, UsageError } from "../cli/output.ts";
import { encodeBase64Url } from "../envelope/base64url.ts";
import {
  exportSpki,
  importEncryptionPrivateKey,
  isKeyId,
  keyIdOfSpki,
} from "../envelope/encryption_key.ts";
import { MleError } from "../envelope/errors.ts";
import { decodePem, encodePem } from "../envelope/pem.ts";
import {
  encryptionKeysDir,
  readEncryptionKeyFile,
  writeEncryptionKeyFile,
} from "../keystore/encryption_keys.ts";
import { openWithPassword } from "../keystore/password_seal.ts";
import { ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import { type Masthead, verifyMasthead } from "../protocol/masthead.ts";
import { DATABASE_FILE, openStore } from "../store/mod.ts";
import { TOOL } from "./_args.ts";
import { exists, MASTHEAD_FILE } from "./_site.ts";
import {
  keyFingerprint,
  readTransferFile,
  readTransferPassword,
  TRANSFER_FORMAT,
  TRANSFER_SUFFIX,
  type TransferPasswordSource,
  type TransferPublicData,
} from "./key_transfer.ts";

/** What `import` needs. */
export interface ImportRequest {
  from: string;
  dataDir: string;
  kid: string | undefined;
  /** Make the data dir a server data dir (a DSA server) when it has no database yet. */
  server: boolean;
  /** Signs the key's certificate there afterwards (`--deploy`: needs the site key). */
  deploy: ((kid: string) => Promise<number>) | undefined;
  mastheadFile: string | undefined;
  password: TransferPasswordSource;
}

/** Installs a transferred key into a data dir (server, DSA server or decrypting relay). */
export async function importEncryptionKey(request: ImportRequest): Promise<number> {
  const source = await findTransfer(request.from, request.kid);
  const hasDatabase = await exists(joinPath(request.dataDir, DATABASE_FILE));
  const serverDir = hasDatabase || request.server;
  if (request.deploy && !serverDir) {
    throw new UsageError(
      "Cannot use --deploy: the data dir is not a server's",
      "give the server data dir, or --server to make a DSA server's data dir",
    );
  }
  const opened = source.kind === "sealed"
    ? await openSealedTransfer(source.path, source.kid, request.password)
    : await openPlainKey(source.path, source.kid);
  try {
    const fingerprint = await keyFingerprint(opened.spki);
    const given = request.mastheadFile === undefined
      ? null
      : await readMastheadFile(request.mastheadFile);
    const carried = opened.masthead === null ? null : await verifiedMasthead(opened.masthead);
    if (given && carried && given.masthead.sitePublicKey !== carried.masthead.sitePublicKey) {
      throw new CliError(
        `Cannot import key ${opened.kid}: --masthead is of another site than the exported key's`,
      );
    }
    const offered = given ?? carried;
    const existing = await existingMasthead(request.dataDir, hasDatabase);
    if (
      existing && offered && existing.masthead.sitePublicKey !== offered.masthead.sitePublicKey
    ) {
      throw new CliError(
        `Cannot import key ${opened.kid}: "${request.dataDir}" serves site ` +
          `"${existing.masthead.siteName}", the key belongs to site "${offered.masthead.siteName}"`,
      );
    }
    if (serverDir && !existing && !offered) {
      throw new CliError(
        `Cannot make "${request.dataDir}" a server data dir: the site's masthead is unknown`,
        { hint: "give --masthead FILE (the site's masthead.json)" },
      );
    }

    await ensurePrivateDir(request.dataDir);
    const folder = encryptionKeysDir(request.dataDir);
    const keyPath = joinPath(folder, `${opened.kid}.pvk`);
    let installed: "new" | "already";
    if (await exists(keyPath)) {
      await readEncryptionKeyFile(keyPath, opened.kid);
      installed = "already";
    } else {
      const text = `# MLE encryption private key ${opened.kid}\n# imported: ${
        new Date().toISOString()
      }\n# fingerprint: ${fingerprint}\n${encodePem("PRIVATE KEY", opened.pkcs8)}`;
      await writeEncryptionKeyFile(folder, opened.kid, text);
      installed = "new";
    }
    if (!existing && offered) {
      await Deno.writeTextFile(joinPath(request.dataDir, MASTHEAD_FILE), offered.text + "\n", {
        createNew: true,
        mode: 0o644,
      });
    }

    const lines = [
      `Key ${opened.kid} (${opened.bits}-bit RSA-OAEP${
        opened.role ? `, ${opened.role} where it was exported` : ""
      })`,
      `  fingerprint: ${fingerprint}`,
      "  compare it with the one mle-admin encryption export printed; if they differ, delete the",
      "  key file and do not use this key",
      installed === "new"
        ? `  installed:   ${keyPath} (mode 0600)`
        : `  installed:   ${keyPath} was already there`,
    ];
    if (!existing && offered) {
      lines.push(
        `  masthead:    of site "${offered.masthead.siteName}", installed in the data dir`,
      );
    }
    if (serverDir) {
      const role = await recordKey(request.dataDir, opened, offered?.text ?? null);
      lines.push(`  store:       the server loads it within seconds (role ${role})`);
      console.log(lines.join("\n"));
      if (request.deploy) return await request.deploy(opened.kid);
      console.log(
        `Next (the seed's "Deploy key" on a DSA server): mle-admin encryption deploy --kid ${opened.kid} ` +
          `--data-dir ${request.dataDir} --site-key FILE`,
      );
      return EXIT.ok;
    }
    if (!existing && !offered) {
      printWarning(
        TOOL,
        "no masthead came with the key: start a decrypting relay with --masthead FILE",
      );
    }
    lines.push(
      `Next: mle-relay run --data-dir ${request.dataDir} --parent http://SERVER:52311 --decrypt`,
    );
    console.log(lines.join("\n"));
    return EXIT.ok;
  } finally {
    opened.pkcs8.fill(0);
  }
}

interface OpenedKey {
  kid: string;
  bits: number;
  role: string | null;
  spki: Uint8Array<ArrayBuffer>;
  pkcs8: Uint8Array<ArrayBuffer>;
  masthead: string | null;
}

type TransferSource = { kind: "sealed" | "plain"; kid: string; path: string };

async function findTransfer(from: string, kid: string | undefined): Promise<TransferSource> {
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(from))).map((entry) => entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CliError(`Cannot import from "${from}": no such folder`);
    }
    throw error;
  }
  const found = new Map<string, TransferSource>();
  for (const name of names.sort()) {
    const sealed = /^([0-9a-f]{40})\.mle-key\.json$/.exec(name);
    const plain = /^([0-9a-f]{40})\.pvk$/.exec(name);
    if (sealed) {
      found.set(sealed[1], { kind: "sealed", kid: sealed[1], path: joinPath(from, name) });
    } else if (plain && !found.has(plain[1])) {
      found.set(plain[1], { kind: "plain", kid: plain[1], path: joinPath(from, name) });
    }
  }
  let candidates = [...found.values()];
  if (kid !== undefined) {
    const wanted = kid.trim().toLowerCase();
    if (!/^[0-9a-f]{6,40}$/.test(wanted)) {
      throw new UsageError(
        `Cannot use key id "${kid}": expected 40 hexadecimal characters (or a prefix of 6 or more)`,
      );
    }
    candidates = candidates.filter((candidate) => candidate.kid.startsWith(wanted));
  }
  if (candidates.length === 0) {
    throw new CliError(`Cannot import: "${from}" holds no ${kid ? `key ${kid}` : "key"}`, {
      hint: `expected <key id>${TRANSFER_SUFFIX} (from mle-admin encryption export) or ` +
        "<key id>.pvk (from -outkeypath)",
    });
  }
  if (candidates.length > 1) {
    throw new CliError(
      `Cannot import: "${from}" holds ${candidates.length} keys: ${
        candidates.map((c) => c.kid).join(", ")
      }`,
      { hint: "name one with --kid KEYID" },
    );
  }
  return candidates[0];
}

async function openSealedTransfer(
  path: string,
  kid: string,
  passwordSource: TransferPasswordSource,
): Promise<OpenedKey> {
  const file = readTransferFile(await Deno.readTextFile(path), kid, path);
  const password = await readTransferPassword(passwordSource, false);
  let pkcs8: Uint8Array<ArrayBuffer>;
  try {
    pkcs8 = await openWithPassword(file.sealed, password);
  } catch (error) {
    if (error instanceof MleError) {
      throw new CliError(
        `Cannot import "${path}": wrong transfer password, or the file was altered`,
        { hint: "nothing was installed; check the password, or export the key again" },
      );
    }
    throw error;
  }
  // From here on, everything read is authenticated by the seal.
  let data: TransferPublicData;
  try {
    data = JSON.parse(file.sealed.publicData);
  } catch {
    pkcs8.fill(0);
    throw new CliError(`Cannot import "${path}": its sealed data is not JSON`);
  }
  if (data?.format !== TRANSFER_FORMAT || data.kid !== kid || !isKeyId(data.kid)) {
    pkcs8.fill(0);
    throw new CliError(`Cannot import "${path}": the file names another key than its seal`);
  }
  const opened = await checkKey(pkcs8, kid, path);
  if (encodeBase64Url(opened.spki) !== data.spki) {
    pkcs8.fill(0);
    throw new CliError(`Cannot import "${path}": the sealed public key is not the private key's`);
  }
  return {
    ...opened,
    role: typeof data.role === "string" ? data.role : null,
    masthead: typeof data.masthead === "string" ? data.masthead : null,
  };
}

async function openPlainKey(path: string, kid: string): Promise<OpenedKey> {
  const info = await Deno.lstat(path);
  if (!info.isFile) throw new CliError(`Cannot import "${path}": not a regular file`);
  if (Deno.build.os !== "windows" && info.mode !== null && (info.mode & 0o077) !== 0) {
    printWarning(
      TOOL,
      `"${path}" can be read by others (mode ${(info.mode & 0o777).toString(8)}); ` +
        "prefer mle-admin encryption export, which seals the key under a password",
    );
  }
  const pkcs8 = decodePem("PRIVATE KEY", new TextDecoder().decode(await Deno.readFile(path)));
  return { ...(await checkKey(pkcs8, kid, path)), role: null, masthead: null };
}

/** Imports the private key and checks that it is the key `kid` names. */
async function checkKey(
  pkcs8: Uint8Array<ArrayBuffer>,
  kid: string,
  path: string,
): Promise<Omit<OpenedKey, "role" | "masthead">> {
  let spki: Uint8Array<ArrayBuffer>;
  let bits: number;
  try {
    const imported = await importEncryptionPrivateKey(pkcs8);
    spki = await exportSpki(imported.publicKey);
    bits = imported.bits;
  } catch (error) {
    pkcs8.fill(0);
    throw new CliError(`Cannot import "${path}": ${(error as Error).message}`);
  }
  const actual = await keyIdOfSpki(spki);
  if (actual !== kid) {
    pkcs8.fill(0);
    throw new CliError(
      `Cannot import "${path}": the key inside is ${actual}, not the ${kid} its name says`,
      { hint: "nothing was installed; the file was altered or renamed" },
    );
  }
  return { kid, bits, spki, pkcs8 };
}

interface VerifiedMasthead {
  masthead: Masthead;
  text: string;
}

async function verifiedMasthead(text: string): Promise<VerifiedMasthead> {
  try {
    return { masthead: (await verifyMasthead(JSON.parse(text))).masthead, text: text.trim() };
  } catch (error) {
    throw new CliError(`Cannot use the masthead: ${(error as Error).message}`);
  }
}

async function readMastheadFile(path: string): Promise<VerifiedMasthead> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new CliError(`Cannot read masthead "${path}": ${(error as Error).message}`);
  }
  return await verifiedMasthead(text);
}

/** The data dir's masthead: its store's, else its `masthead.json`, else null. */
async function existingMasthead(
  dataDir: string,
  hasDatabase: boolean,
): Promise<VerifiedMasthead | null> {
  if (hasDatabase) {
    const store = openStore(dataDir);
    try {
      const text = await store.getDocument("masthead");
      if (text !== null) return await verifiedMasthead(text);
    } finally {
      store.close();
    }
  }
  try {
    return await verifiedMasthead(await Deno.readTextFile(joinPath(dataDir, MASTHEAD_FILE)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Records the key in the data dir's store (made when missing); returns its role there. */
async function recordKey(
  dataDir: string,
  key: OpenedKey,
  masthead: string | null,
): Promise<string> {
  const store = openStore(dataDir);
  try {
    if (masthead !== null && (await store.getDocument("masthead")) === null) {
      await store.putDocument("masthead", masthead);
    }
    const keys = await store.listEncryptionKeys();
    const known = keys.find((record) => record.kid === key.kid);
    if (known) {
      if (known.role === "retired") {
        printWarning(TOOL, `key ${key.kid} is retired in this store: servers do not load it`);
      }
      return known.role;
    }
    // At most one key is pending: another one waits as previous (loaded, deployable by --kid).
    const role = key.role === "previous" || keys.some((record) => record.role === "pending")
      ? "previous"
      : "pending";
    await store.addEncryptionKey({
      kid: key.kid,
      spki: encodeBase64Url(key.spki),
      bits: key.bits,
      role,
      createdAt: Date.now(),
      deployedAt: null,
      retiredAt: null,
    });
    return role;
  } finally {
    store.close();
  }
}
