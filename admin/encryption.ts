/**
 * `mle-admin encryption generate|deploy|status|retire|export|import|disable`: the MLE key's life on
 * the server, and the one implementation behind the legacy `-reportencryption` syntax too.
 *
 * Disabled → (generate) Pending → (deploy) Enabled → (generate) Pending rotation → (deploy)
 * Enabled with the new key. Old keys stay in `Encryption Keys` (role "previous") so reports
 * already encrypted to them are never lost, until `retire` (refused while computers still used
 * them lately). `export`/`import` carry a key to decrypting relays and DSA servers
 * (`key_transfer.ts`, `key_import.ts`); `retire` and `disable` live in `encryption_lifecycle.ts`.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning, UsageError } from "../cli/output.ts";
import { decodeBase64Url, encodeBase64Url } from "../envelope/base64url.ts";
import {
  encryptionKeyId,
  type EncryptionKeySize,
  exportSpki,
  generateEncryptionKeyPair,
  keyIdOfSpki,
  parseEncryptionKeySize,
} from "../envelope/encryption_key.ts";
import {
  encryptionKeyFileProblem,
  encryptionKeyFileText,
  encryptionKeysDir,
  readEncryptionKeyFile,
  writeEncryptionKeyFile,
} from "../keystore/encryption_keys.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import { createSecretFile, ensurePrivateDir, joinPath } from "../keystore/secure_file.ts";
import type { SiteKey } from "../keystore/site_key.ts";
import { signEncryptionCertificate } from "../protocol/encryption_certificate.ts";
import {
  type ComputerRecord,
  type EncryptionKeyRecord,
  isServerLive,
  type ServerRecord,
  type Store,
} from "../store/mod.ts";
import {
  type CommandContext,
  parseOptions,
  resolveDataDir,
  stringOption,
  TOOL,
  wantsHelp,
} from "./_args.ts";
import { disabledSince, isActive, orphanedComputers } from "./_encryption_levels.ts";
import { requireLiveServersHold, serversHolding } from "./_key_holders.ts";
import { recordSupersedingDocument } from "./_numbered_documents.ts";
import { formatTable, formatTime } from "./_format.ts";
import { withProgress } from "./_progress.ts";
import {
  exists,
  openExistingStore,
  openSiteKey,
  requireDataDirMasthead,
  type SiteKeySource,
} from "./_site.ts";
import {
  disableEncryption,
  findKeyByPrefix,
  parseWindowDays,
  retireEncryptionKey,
} from "./encryption_lifecycle.ts";
import { importEncryptionKey } from "./key_import.ts";
import { exportEncryptionKey, TRANSFER_PASSWORD_ENV } from "./key_transfer.ts";

/** Usage of `mle-admin encryption`. */
export const encryptionHelp = `Usage:
  mle-admin encryption generate [--key-size SIZE] [--deploy-now [--force]] [--out-key-path DIR]
                                --site-key FILE [--password-file FILE] [--data-dir DIR]
  mle-admin encryption deploy [--kid KEYID] [--force] --site-key FILE [--password-file FILE]
                              [--data-dir DIR]
  mle-admin encryption status [--json] [--data-dir DIR]
  mle-admin encryption retire KEYID [--window DAYS] [--force] --site-key FILE [--data-dir DIR]
  mle-admin encryption export --to DIR [--kid KEYID] [--transfer-password-file FILE]
                              [--data-dir DIR]
  mle-admin encryption import --from DIR --data-dir DIR [--kid KEYID] [--server] [--deploy]
                              [--masthead FILE] [--transfer-password-file FILE] [--site-key FILE]
  mle-admin encryption disable [--force] --site-key FILE [--password-file FILE] [--data-dir DIR]

Manages the Message Level Encryption key of a server data dir.
  generate  makes a new RSA-OAEP key pair: its private key goes to "<data dir>/Encryption Keys/
            <key id>.pvk" and the key becomes Pending, so that it can be copied to decrypting
            relays and DSA servers before any client uses it. Refused while a key is pending.
  deploy    signs the encryption certificate of the pending key (or --kid) with the site key:
            clients encrypt to it from their next report. The key before it stays usable for
            decryption. Its private key file must be in this data dir's "Encryption Keys", and
            every running server sharing the database must hold it (unless --force).
  status    shows the state (Disabled, Pending, Enabled, Pending rotation), every key with its
            role (current, previous, pending, retired) and how many computers last reported
            with it, whether its private key file is here and usable (a file others can read is
            refused: "unusable, mode 0644: run chmod 600 …"), which servers sharing the
            database hold it (each server records itself; "-" for a key no server loads; a
            stopped server or one not seen for 30 s is marked so), and, once encryption is
            disabled, the orphaned computers. Decrypting relays are not listed: the server
            cannot tell which keys a relay holds.
  retire    stops servers from loading a key that is not current. Refused while computers sent
            reports encrypted to it within the window, unless --force: reports still encrypted
            to it (in relay spools, offline clients) could then no longer be decrypted.
  export    writes <key id>.mle-key.json into DIR: the private key sealed under a transfer
            password, with its public key, size, role, the site's masthead and, if deployed, its
            certificate; prints the key's fingerprint to compare on the other side (USB key).
  import    checks a transferred key (password, key id, fingerprint) and installs it into the
            data dir's "Encryption Keys" (0600). A server data dir (it has a database, or
            --server makes one for a DSA server) also records it in its store, and --deploy
            signs its certificate there (the seed's "Deploy key"); any other folder (a decrypting
            relay's) also gets the site's masthead. Also takes the seed's plain <key id>.pvk.
  disable   turns encryption off (signs the "disabled" certificate). Refused while computers
            require encryption (they would be orphaned: listed), unless --force.

Options:
  --key-size SIZE      min (2048), max (4096), 2048, 3072 or 4096 bits [default: max]
  --deploy-now         deploy the new key at once (skips the Pending state)
  --out-key-path DIR   also write a copy of the private key file <key id>.pvk there (mode 0600),
                       for a USB transfer to decrypting relays and DSA servers; the copy is NOT
                       encrypted (it warns): prefer "encryption export", sealed under a password
  --kid KEYID          the key to deploy (a pending or previous key; a unique prefix is enough)
                       [default: the pending key]
  --site-key FILE      the site key (license.pvk) [env: MLE_SITE_KEY]
  --password-file FILE read the site key's password from FILE's first line (only its
                       owner may read FILE: chmod 600 FILE)
                       [env: MLE_SITE_PASSWORD; else asked on the terminal]
  --data-dir DIR       the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  --json               status as JSON: {state, currentKid, pendingKid, keys: [...], …}; each key
                       has privateKeyFile (true when its file is here) and privateKeyProblem
                       (null, "not here", or why the file is unusable: "unusable, mode 0644: run
                       chmod 600 …")
  --window DAYS        (retire) how far back reports count as use [default: 7]
  --force              (retire, disable) go on although computers would be hurt; (deploy,
                       generate --deploy-now, import --deploy) deploy although a running server
                       sharing the database lacks the key's private key file (refused by
                       default: ERR_KEY_NOT_ON_SERVER, naming the server and the import to run)
  --to DIR             (export) the folder to write to, e.g. the USB key
  --from DIR           (import) the folder to read from
  --transfer-password-file FILE
                       (export, import) the transfer password, first line of FILE
                       (only its owner may read FILE: chmod 600 FILE)
                       [env: ${TRANSFER_PASSWORD_ENV}; else asked on the terminal; export asks twice]
  --server             (import) make DIR a server data dir (a DSA server) if it has no database
  --deploy             (import) then deploy the key there (needs --site-key)
  --masthead FILE      (import) the site's masthead, for a data dir that has none
  -h, --help           show this help

The documented syntax works too (see mle-admin -reportencryption -h):
  mle-admin -reportencryption -generatekey -privateKeySize=max -deploynow=no -outkeypath=<path> \\
    -sitePvkLocation=<path+license.pvk>
  mle-admin -reportencryption -deploynow=yes -sitePvkLocation=<path+license.pvk>

Examples:
  mle-admin encryption generate --key-size max --out-key-path /media/usb --site-key ~/site/license.pvk
  mle-admin encryption deploy --site-key ~/site/license.pvk
  mle-admin encryption status --json
  mle-admin encryption retire 3f2a91c0 --window 14 --site-key ~/site/license.pvk
  mle-admin encryption export --to /media/usb
  mle-admin encryption import --from /media/usb --data-dir /var/opt/mle-relay
  mle-admin encryption import --from /media/usb --data-dir /var/opt/mle-dsa --server --deploy \
    --site-key ~/site/license.pvk
  mle-admin encryption disable --site-key ~/site/license.pvk

Exit codes:
  0  done
  1  failed (wrong password, a key already pending, nothing to deploy, key file missing, …)
  2  misuse: unknown option, missing option, bad value;
     a password file others can read
`;

/** The server's MLE state, derived from its keys. */
export type EncryptionState = "Disabled" | "Pending" | "Enabled" | "Pending rotation";

/** Derives the state from the key roles: a current key means Enabled, a pending one Pending. */
export function encryptionState(keys: readonly EncryptionKeyRecord[]): EncryptionState {
  const current = keys.some((key) => key.role === "current");
  const pending = keys.some((key) => key.role === "pending");
  if (current) return pending ? "Pending rotation" : "Enabled";
  return pending ? "Pending" : "Disabled";
}

/** What `generate` needs, from either syntax. */
export interface GenerateRequest {
  dataDir: string;
  bits: EncryptionKeySize;
  deployNow: boolean;
  outKeyPath: string | undefined;
  site: SiteKeySource;
  /** How the site key option is spelled in the syntax used, for messages. */
  siteKeyOption: string;
  /** With `deployNow`: deploy although a live server lacks the key. */
  force?: boolean;
}

/** What `deploy` needs, from either syntax. */
export interface DeployRequest {
  dataDir: string;
  kid: string | undefined;
  site: SiteKeySource;
  siteKeyOption: string;
  /** Deploy although a live server lacks the key (`_key_holders.ts`). */
  force?: boolean;
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

async function deployKey(
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

/** Prints the state and the keys of a data dir. */
export async function showEncryptionStatus(dataDir: string, json: boolean): Promise<number> {
  const store = await openExistingStore(dataDir);
  let keys: EncryptionKeyRecord[];
  let computers: ComputerRecord[];
  let disabledAt: number | null;
  let orphaned;
  let servers: ServerRecord[];
  try {
    keys = await store.listEncryptionKeys();
    servers = await store.listServers();
    computers = (await store.listComputers()).filter(isActive);
    disabledAt = keys.some((key) => key.role === "current") ? null : await disabledSince(store);
    orphaned = (await orphanedComputers(store)).map(({ computer, source }) => ({
      id: computer.id,
      hostname: computer.hostname,
      lastReportAt: computer.lastReportAt,
      levelSource: source,
    }));
  } finally {
    store.close();
  }
  // Per key id, the computers whose last report was encrypted to it.
  const clientsOf = (kid: string) =>
    computers.filter((computer) => computer.lastReportAt !== null && computer.lastKid === kid)
      .length;
  const clientsInClear =
    computers.filter((computer) => computer.lastReportAt !== null && computer.lastKid === null)
      .length;
  const folder = encryptionKeysDir(dataDir);
  const rows = await Promise.all(keys.map(async (key) => ({
    kid: key.kid,
    bits: key.bits,
    role: key.role,
    createdAt: key.createdAt,
    deployedAt: key.deployedAt,
    retiredAt: key.retiredAt,
    privateKeyFile: await exists(joinPath(folder, `${key.kid}.pvk`)),
    // Why this data dir's server cannot use the key's file (the server logs the same), or null.
    privateKeyProblem: key.role === "retired"
      ? null
      : await encryptionKeyFileProblem(dataDir, key.kid),
    clients: clientsOf(key.kid),
    // The servers sharing this store that recorded the key as loaded there.
    servers: serversHolding(servers, key.kid).map((server) => ({
      name: server.name,
      url: server.url,
      live: isServerLive(server, Date.now()),
      lastSeenAt: server.lastSeenAt,
    })),
  })));
  const state = encryptionState(keys);
  const currentKid = keys.find((key) => key.role === "current")?.kid ?? null;
  const pendingKid = keys.find((key) => key.role === "pending")?.kid ?? null;
  if (json) {
    console.log(
      JSON.stringify(
        { state, currentKid, pendingKid, keys: rows, clientsInClear, disabledAt, orphaned },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  const lines = [`Encryption: ${state}`];
  lines.push(
    currentKid
      ? `Clients are told to encrypt to: ${currentKid}`
      : "Clients are told to encrypt to: no key (level optional sends clear text; " +
        "level required keeps reports queued)",
  );
  if (pendingKid) {
    lines.push(
      `Pending key: ${pendingKid} (copy it to decrypting relays and DSA servers, then deploy it)`,
    );
  }
  if (disabledAt !== null) lines.push(`Disabled since: ${formatTime(disabledAt)}`);
  const currentProblem = rows.find((row) => row.role === "current")?.privateKeyProblem ?? null;
  if (currentProblem !== null) {
    lines.push(
      `Current key's private key here: ${currentProblem}; until then this server refuses ` +
        "reports encrypted to it (503 ERR_KEY_UNAVAILABLE) and clients keep them queued",
    );
  }
  if (clientsInClear > 0) {
    lines.push(`Computers whose last report was clear text: ${clientsInClear}`);
  }
  if (orphaned.length > 0) {
    lines.push(
      `Orphaned: ${orphaned.length} computer(s) require encryption and have not reported since ` +
        "it was disabled (deploy a key again, or set their level to optional):",
    );
    for (const entry of orphaned.slice(0, 50)) {
      lines.push(
        `  computer ${entry.id} (${entry.hostname ?? "no hostname"}), last report ${
          formatTime(entry.lastReportAt)
        }`,
      );
    }
  }
  console.log(lines.join("\n"));
  if (rows.length > 0) {
    console.log(
      "\n" + formatTable(
        [
          "KEY ID",
          "BITS",
          "ROLE",
          "CLIENTS",
          "CREATED",
          "DEPLOYED",
          "PRIVATE KEY HERE",
          "SERVERS HOLDING IT",
        ],
        rows.map((row) => [
          row.kid,
          String(row.bits),
          row.role,
          String(row.clients),
          formatTime(row.createdAt),
          formatTime(row.deployedAt),
          row.privateKeyProblem ?? (row.privateKeyFile ? "yes" : "no"),
          row.servers.length === 0
            ? "-"
            : row.servers.map((server) =>
              server.live ? server.name : `${server.name} (not running)`
            )
              .join(", "),
        ]),
      ).trimEnd(),
    );
  }
  return EXIT.ok;
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

/** Runs `mle-admin encryption …` (modern syntax). */
export async function encryptionCommand(
  args: string[],
  context: CommandContext,
): Promise<number> {
  if (wantsHelp(args)) {
    console.log(encryptionHelp);
    return EXIT.ok;
  }
  const [sub, ...rest] = args;
  const siteOptions = {
    "site-key": { type: "string" },
    "password-file": { type: "string" },
  } as const;
  const transferOptions = {
    "transfer-password-file": { type: "string" },
    "transfer-password": { type: "string" },
  } as const;
  switch (sub?.startsWith("-") ? undefined : sub) {
    case "generate": {
      const { values } = parseOptions(rest, {
        ...siteOptions,
        "key-size": { type: "string" },
        "deploy-now": { type: "boolean" },
        "out-key-path": { type: "string" },
        force: { type: "boolean" },
      });
      const bits = parseKeySize(stringOption(values, "key-size") ?? "max");
      const outKeyPath = stringOption(values, "out-key-path");
      if (outKeyPath === "") throw new UsageError("Missing value of option --out-key-path");
      return await generateEncryptionKey({
        dataDir: resolveDataDir(context),
        bits,
        deployNow: values["deploy-now"] === true,
        outKeyPath,
        site: siteSource(values),
        siteKeyOption: "--site-key",
        force: values.force === true,
      });
    }
    case "deploy": {
      const { values } = parseOptions(rest, {
        ...siteOptions,
        kid: { type: "string" },
        force: { type: "boolean" },
      });
      return await deployEncryptionKey({
        dataDir: resolveDataDir(context),
        kid: stringOption(values, "kid"),
        site: siteSource(values),
        siteKeyOption: "--site-key",
        force: values.force === true,
      });
    }
    case "status": {
      const { values } = parseOptions(rest, { json: { type: "boolean" } });
      return await showEncryptionStatus(resolveDataDir(context), values.json === true);
    }
    case "retire": {
      const { values, positionals } = parseOptions(rest, {
        ...siteOptions,
        window: { type: "string" },
        force: { type: "boolean" },
      }, true);
      if (positionals.length !== 1) {
        throw new UsageError("Expected one key id: mle-admin encryption retire KEYID");
      }
      return await retireEncryptionKey({
        dataDir: resolveDataDir(context),
        kid: positionals[0],
        windowDays: parseWindowDays(stringOption(values, "window")),
        force: values.force === true,
        site: siteSource(values),
      });
    }
    case "export": {
      const { values } = parseOptions(rest, {
        ...transferOptions,
        to: { type: "string" },
        kid: { type: "string" },
      });
      const to = stringOption(values, "to");
      if (!to) throw new UsageError("Missing option --to: expected the folder to write to");
      return await exportEncryptionKey({
        dataDir: resolveDataDir(context),
        to,
        kid: stringOption(values, "kid"),
        password: transferSource(values),
      });
    }
    case "import": {
      const { values } = parseOptions(rest, {
        ...transferOptions,
        ...siteOptions,
        from: { type: "string" },
        kid: { type: "string" },
        server: { type: "boolean" },
        deploy: { type: "boolean" },
        masthead: { type: "string" },
        force: { type: "boolean" },
      });
      const from = stringOption(values, "from");
      if (!from) throw new UsageError("Missing option --from: expected the folder to read from");
      if (context.dataDir === undefined) {
        throw new UsageError(
          "Missing option --data-dir: expected the data dir to install the key into",
          "give the decrypting relay's or the (DSA) server's data dir",
        );
      }
      const dataDir = context.dataDir;
      const site = siteSource(values);
      return await importEncryptionKey({
        from,
        dataDir,
        kid: stringOption(values, "kid"),
        server: values.server === true,
        deploy: values.deploy === true
          ? (kid) =>
            deployEncryptionKey({
              dataDir,
              kid,
              site,
              siteKeyOption: "--site-key",
              force: values.force === true,
            })
          : undefined,
        mastheadFile: stringOption(values, "masthead"),
        password: transferSource(values),
      });
    }
    case "disable": {
      const { values } = parseOptions(rest, { ...siteOptions, force: { type: "boolean" } });
      return await disableEncryption({
        dataDir: resolveDataDir(context),
        force: values.force === true,
        site: siteSource(values),
      });
    }
    case undefined:
      throw new UsageError(
        "Missing encryption command: expected generate, deploy, status, retire, export, " +
          "import or disable",
      );
    default:
      throw new UsageError(
        `Unknown encryption command "${sub}": expected generate, deploy, status, retire, ` +
          "export, import or disable",
      );
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

function transferSource(values: Record<string, unknown>) {
  const file = values["transfer-password-file"];
  const argv = values["transfer-password"];
  return {
    file: typeof file === "string" ? file : undefined,
    argv: typeof argv === "string" ? argv : undefined,
  };
}

function siteSource(values: Record<string, unknown>): SiteKeySource {
  const path = values["site-key"];
  const file = values["password-file"];
  return {
    path: typeof path === "string" && path !== "" ? path : undefined,
    passwordFile: typeof file === "string" ? file : undefined,
    argvPassword: undefined,
  };
}
