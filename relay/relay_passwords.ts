/**
 * The passwords of an authenticating relay (the manual key exchange): one shared password and/or
 * a file of one-time passwords, each of which works once.
 *
 * Each password's key is derived once, slowly, with this relay's salt
 * (`protocol/key_exchange.ts`; the salt is made on first start and kept in
 * `<data-dir>/key-exchange/salt`): the shared password's before the relay serves, the one-time
 * passwords' in the background, unused ones first, in file order (about 70 ms each: a file of
 * 1,000 takes about a minute, during which a proof naming a key not derived yet is told to come
 * back). A proof names
 * its key by id, so checking one costs a map lookup and at most one HMAC, however many passwords
 * there are.
 *
 * A one-time password is consumed by creating a marker file named by its hash with create-new
 * (`<data-dir>/key-exchange/used/<sha-256>`): the file system decides, so two registrations racing
 * with the same password cannot both win, across restarts too. The marker is removed again only
 * when the registration it admitted did not complete (the parent refused it or did not answer),
 * so an operator's password is not lost to a network failure.
 *
 * Passwords never leave this module: not in logs, errors or answers.
 *
 * @module
 */

import type { FlattenedJws } from "../envelope/jws.ts";
import {
  checkOwnerOnlyFile,
  dirname,
  ensurePrivateDir,
  joinPath,
  pathExists,
  syncDir,
} from "../keystore/secure_file.ts";
import {
  checkProof,
  derivePasswordKey,
  isKeyExchangeSalt,
  newKeyExchangeSalt,
  proofForSalt,
} from "../protocol/key_exchange.ts";

/** Largest one-time password file read, in bytes. */
export const MAX_ONE_TIME_PASSWORDS_BYTES = 1024 * 1024;
/**
 * Most one-time passwords read from the file: each costs one slow derivation (about 70 ms of one
 * core) when the relay starts or the file changes.
 */
export const MAX_ONE_TIME_PASSWORDS = 1_000;
/** Passwords shorter than this are warned about: an eavesdropper can guess them offline. */
export const SHORT_PASSWORD_LENGTH = 16;
/** How often, at most, the one-time password file is looked at for changes. */
const FILE_CHECK_INTERVAL_MS = 1_000;

/** Which kind of password a proof matched. */
export type PasswordKind = "shared password" | "one-time password";

/** The outcome of checking a key-exchange proof. */
export type PasswordMatch =
  | {
    ok: true;
    kind: PasswordKind;
    /** Gives a consumed one-time password back (the registration did not complete). */
    release(): Promise<void>;
  }
  | { ok: false; reason: "wrong" | "used" }
  /** The proof names no key derived so far, and one-time passwords are still being derived. */
  | { ok: false; reason: "preparing"; derived: number; total: number };

/** Options of {@linkcode RelayPasswords.open}. */
export interface RelayPasswordsOptions {
  /** The shared password, if any. */
  sharedPassword?: string;
  /** The file of one-time passwords (one a line; blank lines and `#` comments ignored). */
  oneTimePasswordsFile?: string;
  /** The relay's data dir: its salt, and consumed one-time passwords in `key-exchange/used/`. */
  dataDir: string;
  /** Told when the one-time passwords' keys are all derived (for the log). */
  onReady?: (count: number) => void;
}

/** A derived key and what it admits. */
interface KnownKey {
  key: CryptoKey;
  kind: PasswordKind;
  /** The used-marker's name (one-time passwords). */
  marker?: string;
}

const encoder = new TextEncoder();

/**
 * Checks key-exchange proofs against the relay's passwords and consumes one-time passwords.
 *
 * @example
 * ```ts ignore
 * import { RelayPasswords } from "./relay_passwords.ts";
 * const passwords = await RelayPasswords.open({ sharedPassword, dataDir: "/var/opt/mle-relay" });
 * const match = await passwords.match(registration, body.keyExchange);
 * if (match.ok && registrationFailed) await match.release();
 * ```
 */
export class RelayPasswords {
  readonly #file: string | undefined;
  readonly #usedDir: string;
  readonly #onReady: (count: number) => void;
  /** This relay's salt, as published. */
  readonly salt: string;
  /** Keys by public id: the shared password's and the one-time passwords' derived so far. */
  readonly #keys = new Map<string, KnownKey>();
  /** One-time password keys by marker name, so that a changed file re-derives only new ones. */
  #oneTimeByMarker = new Map<string, { id: string; known: KnownKey }>();
  #stamp: string | null = null;
  #checkedAt = -Infinity;
  #total = 0;
  #derived = 0;
  /** The derivation running now; a newer file's replaces it. */
  #generation = 0;
  #deriving: Promise<void> = Promise.resolve();

  private constructor(options: RelayPasswordsOptions, usedDir: string, salt: string) {
    this.#file = options.oneTimePasswordsFile;
    this.#usedDir = usedDir;
    this.#onReady = options.onReady ?? (() => {});
    this.salt = salt;
  }

  /**
   * Opens the passwords: reads (or makes) the salt, derives the shared password's key, reads the
   * one-time password file once to check it and starts deriving its keys in the background.
   *
   * @throws {RangeError} When there is no password at all, or the file holds too many.
   * @throws {MleError} `ERR_SECRET_FILE_INSECURE` when others can access the file, or it is not a
   * regular file (the one rule of `keystore/secure_file.ts`).
   */
  static async open(options: RelayPasswordsOptions): Promise<RelayPasswords> {
    if (options.sharedPassword === "") throw new RangeError("Cannot use an empty shared password");
    if (options.sharedPassword === undefined && options.oneTimePasswordsFile === undefined) {
      throw new RangeError(
        "Cannot authenticate without a password: give a shared password or a one-time password file",
      );
    }
    const usedDir = joinPath(options.dataDir, "key-exchange", "used");
    await ensurePrivateDir(usedDir);
    const salt = await readOrMakeSalt(joinPath(options.dataDir, "key-exchange", "salt"));
    const passwords = new RelayPasswords(options, usedDir, salt);
    if (options.sharedPassword !== undefined) {
      const { id, key } = await derivePasswordKey(options.sharedPassword, salt);
      passwords.#keys.set(id, { key, kind: "shared password" });
    }
    await passwords.#refresh(true);
    return passwords;
  }

  /** How many one-time passwords the file holds, and how many of them are short. */
  async oneTimePasswordCount(): Promise<{ total: number; short: number }> {
    const passwords = await this.#readFile();
    return {
      total: passwords.length,
      short: passwords.filter((password) => password.length < SHORT_PASSWORD_LENGTH).length,
    };
  }

  /** Resolves when every one-time password read so far has its key (for tests and start-up). */
  async ready(): Promise<void> {
    let deriving;
    do {
      deriving = this.#deriving;
      await deriving;
    } while (deriving !== this.#deriving);
  }

  /**
   * Checks a proof: the entry for this relay's salt names a key by id; one HMAC decides. A
   * matching one-time password is consumed here (atomically), or reported as used.
   *
   * The one-time password file is looked at again (at most once a second) when it changed, so
   * that an operator can add passwords without restarting the relay.
   */
  async match(registration: FlattenedJws, proof: unknown): Promise<PasswordMatch> {
    await this.#refresh(false);
    const entry = proofForSalt(proof, this.salt);
    if (entry === null) return { ok: false, reason: "wrong" };
    const known = this.#keys.get(entry.id);
    if (known === undefined) {
      return this.#derived < this.#total
        ? { ok: false, reason: "preparing", derived: this.#derived, total: this.#total }
        : { ok: false, reason: "wrong" };
    }
    if (!(await checkProof(registration, entry, known.key))) return { ok: false, reason: "wrong" };
    if (known.marker === undefined) {
      return { ok: true, kind: known.kind, release: () => Promise.resolve() };
    }
    const marker = joinPath(this.#usedDir, known.marker);
    if (!(await createMarker(marker))) return { ok: false, reason: "used" };
    return {
      ok: true,
      kind: "one-time password",
      release: async () => {
        await Deno.remove(marker).catch((error) => {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        });
      },
    };
  }

  /** Re-reads the file when it changed and derives the keys of passwords not seen before. */
  async #refresh(force: boolean): Promise<void> {
    if (this.#file === undefined) return;
    const now = Date.now();
    if (!force && now - this.#checkedAt < FILE_CHECK_INTERVAL_MS) return;
    this.#checkedAt = now;
    const info = await checkOwnerOnlyFile(this.#file, "one-time password file");
    if (!force && stampOf(info) === this.#stamp) return;
    const passwords = await this.#readFile();

    const generation = ++this.#generation;
    const wanted = new Map<string, string>();
    for (const password of passwords) wanted.set(await markerName(password), password);
    // Forget the keys of passwords no longer in the file.
    for (const [marker, { id }] of this.#oneTimeByMarker) {
      if (wanted.has(marker)) continue;
      this.#keys.delete(id);
      this.#oneTimeByMarker.delete(marker);
    }
    // Unused passwords first, so that the ones that can still admit are ready soonest; used ones
    // after them, so that a client reusing one is told so rather than "wrong".
    const unseen = [...wanted].filter(([marker]) => !this.#oneTimeByMarker.has(marker));
    const used = await Promise.all(
      unseen.map(([marker]) => pathExists(joinPath(this.#usedDir, marker))),
    );
    const pending = [
      ...unseen.filter((_, i) => !used[i]),
      ...unseen.filter((_, i) => used[i]),
    ];
    this.#total = wanted.size;
    this.#derived = wanted.size - pending.length;
    this.#deriving = (async () => {
      for (const [marker, password] of pending) {
        if (generation !== this.#generation) return; // a newer file took over
        const { id, key } = await derivePasswordKey(password, this.salt);
        if (generation !== this.#generation) return;
        const known: KnownKey = { key, kind: "one-time password", marker };
        this.#keys.set(id, known);
        this.#oneTimeByMarker.set(marker, { id, known });
        this.#derived++;
      }
      if (pending.length > 0) this.#onReady(this.#total);
    })();
  }

  async #readFile(): Promise<string[]> {
    if (this.#file === undefined) return [];
    const info = await checkOwnerOnlyFile(this.#file, "one-time password file");
    if (info.size > MAX_ONE_TIME_PASSWORDS_BYTES) {
      throw new RangeError(
        `Cannot read one-time password file "${this.#file}": larger than ` +
          `${MAX_ONE_TIME_PASSWORDS_BYTES} bytes`,
      );
    }
    const passwords = parseOneTimePasswords(await Deno.readTextFile(this.#file));
    if (passwords.length > MAX_ONE_TIME_PASSWORDS) {
      throw new RangeError(
        `Cannot read one-time password file "${this.#file}": more than ` +
          `${MAX_ONE_TIME_PASSWORDS} passwords; remove the used ones`,
      );
    }
    this.#stamp = stampOf(info);
    return passwords;
  }
}

function stampOf(info: Deno.FileInfo): string {
  return `${info.mtime?.getTime()}:${info.size}:${info.ino ?? ""}`;
}

/** Reads the relay's salt, or makes one (create-new, 0600) on first start. */
async function readOrMakeSalt(path: string): Promise<string> {
  try {
    const salt = (await Deno.readTextFile(path)).trim();
    if (!isKeyExchangeSalt(salt)) {
      throw new RangeError(
        `Cannot read key-exchange salt "${path}": malformed; remove it to make a new one (clients ` +
          "that fetched the old one register again)",
      );
    }
    return salt;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const salt = newKeyExchangeSalt();
  if (await createFile(path, `${salt}\n`)) return salt;
  return (await Deno.readTextFile(path)).trim(); // another start made it first
}

/** Reads the passwords of a one-time password file: one a line, blanks and `#` lines ignored. */
export function parseOneTimePasswords(text: string): string[] {
  const passwords = new Set<string>();
  for (const line of text.split(/\r?\n/)) {
    const password = line.trim();
    if (password === "" || password.startsWith("#")) continue;
    passwords.add(password);
  }
  return [...passwords];
}

/** The marker's name: a hash, so that the used-passwords folder holds no password. */
async function markerName(password: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    encoder.encode(`mle-one-time-password.${password}`),
  );
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Creates a marker with create-new; false when it already exists (the password was used). */
async function createMarker(path: string): Promise<boolean> {
  return await createFile(path, `${JSON.stringify({ usedAt: new Date().toISOString() })}\n`);
}

/** Writes a new file durably (create-new, 0600, fsync file and folder); false if it exists. */
async function createFile(path: string, text: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
  try {
    await file.write(encoder.encode(text));
    await file.sync();
  } finally {
    file.close();
  }
  await syncDir(dirname(path));
  return true;
}
