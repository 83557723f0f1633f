/**
 * The passwords of an authenticating relay (the manual key exchange): one shared password and/or
 * a file of one-time passwords, each of which works once.
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
  syncDir,
} from "../keystore/secure_file.ts";
import { checkKeyExchange } from "../protocol/key_exchange.ts";

/** Largest one-time password file read, in bytes. */
export const MAX_ONE_TIME_PASSWORDS_BYTES = 1024 * 1024;
/**
 * Most one-time passwords read from the file: a proof is checked against each (one HMAC, about
 * 0.15 ms), so this bounds what one unauthenticated registration can cost.
 */
export const MAX_ONE_TIME_PASSWORDS = 1_000;
/** Passwords shorter than this are warned about: an eavesdropper can guess them offline. */
export const SHORT_PASSWORD_LENGTH = 16;

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
  | { ok: false; reason: "wrong" | "used" };

/** Options of {@linkcode RelayPasswords.open}. */
export interface RelayPasswordsOptions {
  /** The shared password, if any. */
  sharedPassword?: string;
  /** The file of one-time passwords (one a line; blank lines and `#` comments ignored). */
  oneTimePasswordsFile?: string;
  /** The relay's data dir: consumed one-time passwords are marked in `key-exchange/used/`. */
  dataDir: string;
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
  readonly #shared: string | undefined;
  readonly #file: string | undefined;
  readonly #usedDir: string;
  #loaded: { stamp: string; passwords: string[] } | null = null;
  /** Checks run one at a time: a flood of bogus proofs cannot take every core. */
  #checking: Promise<unknown> = Promise.resolve();

  private constructor(options: RelayPasswordsOptions, usedDir: string) {
    this.#shared = options.sharedPassword;
    this.#file = options.oneTimePasswordsFile;
    this.#usedDir = usedDir;
  }

  /**
   * Opens the passwords, reading the one-time password file once to check it.
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
    const passwords = new RelayPasswords(options, usedDir);
    await passwords.#oneTimePasswords();
    return passwords;
  }

  /** How many one-time passwords the file holds, and how many of them are short. */
  async oneTimePasswordCount(): Promise<{ total: number; short: number }> {
    const passwords = await this.#oneTimePasswords();
    return {
      total: passwords.length,
      short: passwords.filter((password) => password.length < SHORT_PASSWORD_LENGTH).length,
    };
  }

  /**
   * Checks a proof: first against the shared password, then against each one-time password; a
   * matching one-time password is consumed here (atomically), or reported as used.
   *
   * The one-time password file is read again when it changed, so that an operator can add
   * passwords without restarting the relay.
   */
  match(registration: FlattenedJws, proof: unknown): Promise<PasswordMatch> {
    const result = this.#checking.then(() => this.#match(registration, proof));
    this.#checking = result.catch(() => {});
    return result;
  }

  async #match(registration: FlattenedJws, proof: unknown): Promise<PasswordMatch> {
    if (this.#shared !== undefined && await checkKeyExchange(registration, proof, this.#shared)) {
      return { ok: true, kind: "shared password", release: () => Promise.resolve() };
    }
    for (const password of await this.#oneTimePasswords()) {
      if (!(await checkKeyExchange(registration, proof, password))) continue;
      const marker = joinPath(this.#usedDir, await markerName(password));
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
    return { ok: false, reason: "wrong" };
  }

  async #oneTimePasswords(): Promise<string[]> {
    if (this.#file === undefined) return [];
    const info = await checkOwnerOnlyFile(this.#file, "one-time password file");
    const stamp = `${info.mtime?.getTime()}:${info.size}:${info.ino ?? ""}`;
    if (this.#loaded?.stamp === stamp) return this.#loaded.passwords;
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
    this.#loaded = { stamp, passwords };
    return passwords;
  }
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
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
  try {
    await file.write(encoder.encode(`${JSON.stringify({ usedAt: new Date().toISOString() })}\n`));
    await file.sync();
  } finally {
    file.close();
  }
  await syncDir(dirname(path));
  return true;
}
