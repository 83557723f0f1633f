/**
 * What a client says when its parent is an authenticating relay it has not completed the manual
 * key exchange with: the exact `mle-client register` command to run, with the data-dir and
 * KeyStorage flags that name this client (so that the command registers this client, not the
 * default one).
 *
 * @module
 */

import { CliError } from "../cli/output.ts";
import { EXIT } from "../cli/exit_codes.ts";
import { defaultClientDataDir, defaultKeyStoragePath } from "../keystore/default_paths.ts";
import { joinPath } from "../keystore/secure_file.ts";

/** Error codes an authenticating relay answers a client that must do the key exchange with. */
export type KeyExchangeCode = "ERR_KEY_EXCHANGE_REQUIRED" | "ERR_KEY_EXCHANGE_FAILED";

/** The folders that name a client, as `client report` was given them. */
export interface ClientLocation {
  dataDir: string;
  keyStoragePath: string;
}

/**
 * The command that completes the manual key exchange with `relayUrl`.
 *
 * @example
 * ```ts
 * import { keyExchangeHint } from "./key_exchange_hint.ts";
 * console.log(keyExchangeHint("http://relay.example:52311"));
 * // run "mle-client register --password … http://relay.example:52311" with the relay's password …
 * ```
 */
export function keyExchangeHint(relayUrl: string, client?: ClientLocation): string {
  return `run "${keyExchangeCommand(relayUrl, client)}" with the relay's password ` +
    "(or --password-file FILE, MLE_RELAY_PASSWORD, or the prompt instead of --password), " +
    "then report again";
}

/** The bare command: `mle-client register --password … [--data-dir D] [--storage-path S] URL`. */
export function keyExchangeCommand(relayUrl: string, client?: ClientLocation): string {
  const words = ["mle-client", "register", "--password", "…"];
  if (client) {
    // Reproduce `client report`'s rule: KeyStorage is DIR/KeyStorage with --data-dir, else the
    // per-OS default; give --storage-path only where that rule would find another folder.
    const defaultDataDir = defaultClientDataDir();
    const givesDataDir = client.dataDir !== defaultDataDir;
    if (givesDataDir) words.push("--data-dir", shellQuote(client.dataDir));
    const implied = givesDataDir ? joinPath(client.dataDir, "KeyStorage") : defaultKeyStoragePath();
    if (client.keyStoragePath !== implied) {
      words.push("--storage-path", shellQuote(client.keyStoragePath));
    }
  }
  words.push(shellQuote(relayUrl));
  return words.join(" ");
}

/**
 * The parent is an authenticating relay and refused this client: it must complete the manual key
 * exchange (or use another password). Exits 1 with the exact command as the hint.
 */
export class KeyExchangeError extends CliError {
  readonly code: KeyExchangeCode;
  readonly relayUrl: string;

  /** `said` is the relay's message (shown for a refused password). */
  constructor(code: KeyExchangeCode, relayUrl: string, said: string, client?: ClientLocation) {
    super(
      code === "ERR_KEY_EXCHANGE_REQUIRED"
        ? `Cannot report through ${relayUrl}: it is an authenticating relay and this client has ` +
          "not completed the manual key exchange with it"
        : `${said} (relay ${relayUrl})`,
      {
        exitCode: EXIT.failure,
        hint: code === "ERR_KEY_EXCHANGE_REQUIRED"
          ? keyExchangeHint(relayUrl, client)
          : "ask the relay's operator for the right password (a one-time password works once), " +
            `then run "${keyExchangeCommand(relayUrl, client)}" again`,
      },
    );
    this.name = "KeyExchangeError";
    this.code = code;
    this.relayUrl = relayUrl;
  }
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_\-.,:/=@%+]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
