/**
 * `mle-client register`: the manual key exchange with an authenticating relay (the original's
 * `-register <password> <relay-url>`). The client makes its key if it has none, asks the relay
 * for the salts of the authenticating relays on the way up (`GET /api/v1/key-exchange`), derives
 * the password's key for each (slow on purpose: `protocol/key_exchange.ts`; the password itself
 * never crosses the network), registers with a proof for each, stores the computer id it gets,
 * and prints it.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, printWarning, UsageError } from "../cli/output.ts";
import { readPassword } from "../cli/password.ts";
import { fetchJson, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { readCapabilities } from "../protocol/capabilities.ts";
import {
  derivePasswordKey,
  type PasswordKey,
  readKeyExchangeParameters,
} from "../protocol/key_exchange.ts";
import { parseServerUrl } from "../protocol/masthead.ts";
import { API } from "../protocol/paths.ts";
import { Agent, type AgentOptions } from "./agent.ts";

export { keyExchangeCommand, keyExchangeHint } from "./key_exchange_hint.ts";

/** The environment variable a client reads the relay's password from. */
export const RELAY_PASSWORD_ENV = "MLE_RELAY_PASSWORD";

const TOOL = "mle-client";

/** What `register` is given. */
export interface RegisterInput {
  /** The connection options, as for `client report`. */
  agent: AgentOptions;
  /** The relay's URL (positional); else `--parent`, else the remembered parent. */
  relayUrl?: string;
  /** `--password` (visible in the process list: warned). */
  password?: string;
  /** `--password-file`. */
  passwordFile?: string;
  /** Print JSON on stdout. */
  json: boolean;
}

/**
 * Turns the original's `-register PASSWORD [RELAY_URL]` into `register --password=PASSWORD
 * [RELAY_URL]`; other argument lists are returned unchanged.
 *
 * @throws {UsageError} When `-register` has no password after it.
 */
export function rewriteOriginalRegister(args: string[]): string[] {
  const index = args.indexOf("-register");
  if (index < 0) return args;
  const password = args[index + 1];
  // A long option right after `-register` is taken for a forgotten password, not as one.
  if (password === undefined || password.startsWith("--")) {
    throw new UsageError(
      "Cannot register without the relay's password",
      "mle-client -register PASSWORD RELAY_URL, or mle-client register --password-file FILE RELAY_URL",
    );
  }
  // `--password=VALUE`: a password that starts with "-" stays a value.
  return [...args.slice(0, index), "register", `--password=${password}`, ...args.slice(index + 2)];
}

/** Runs the manual key exchange; returns the exit code. */
export async function registerWithRelay(input: RegisterInput): Promise<number> {
  const { agent: options } = input;
  if (input.relayUrl !== undefined) {
    parseServerUrl(input.relayUrl);
    const given = options.parents?.[0];
    if (given !== undefined && trimmed(given) !== trimmed(input.relayUrl)) {
      throw new UsageError(
        `Cannot register with two relays: --parent "${given}" and "${input.relayUrl}"`,
        "give the relay's URL once",
      );
    }
  }
  // The password before anything changes on disk: a misuse leaves the client as it was.
  const password = await readPassword({
    argv: input.password,
    file: input.passwordFile,
    envName: RELAY_PASSWORD_ENV,
    prompt: "Password of the authenticating relay: ",
    warn: (message) => printWarning(TOOL, message),
  });

  const agent = await Agent.open({
    ...options,
    parents: input.relayUrl === undefined ? options.parents : [input.relayUrl],
  });
  const relayUrl = agent.parentUrl;
  let computerId: number;
  try {
    const capabilities = await fetchJson(`${relayUrl}${API.capabilities}`, {
      maxBytes: 64 * 1024,
    });
    if (capabilities.status === 200 && !readCapabilities(capabilities.body).authenticating) {
      options.say(
        `note: ${relayUrl} does not say it is an authenticating relay; registering anyway`,
      );
    }
    computerId = await agent.registerWithKeyExchange(await passwordKeys(relayUrl, password));
  } catch (error) {
    if (!(error instanceof ParentUnreachableError)) throw error;
    throw new CliError(`${error.message}; nothing was registered`, {
      exitCode: EXIT.unreachable,
      hint: "check the relay's URL, or try again when it answers",
    });
  }
  options.say(`key exchange done with ${relayUrl}: this client is computer ${computerId}`);
  console.log(input.json ? JSON.stringify({ computerId, relay: relayUrl }) : String(computerId));
  return EXIT.ok;
}

/**
 * The password's key for each salt the relay publishes (none when no relay on the way
 * authenticates: the registration then needs no proof).
 *
 * @throws {CliError} When the relay asks for a weaker derivation than this client makes.
 */
async function passwordKeys(relayUrl: string, password: string): Promise<PasswordKey[]> {
  const answer = await fetchJson(`${relayUrl}${API.keyExchange}`, { maxBytes: 4 * 1024 });
  if (answer.status === 404) return [];
  if (answer.status !== 200) {
    throw new ParentUnreachableError(`${relayUrl}${API.keyExchange} (HTTP ${answer.status})`);
  }
  let salts: string[];
  try {
    ({ salts } = readKeyExchangeParameters(answer.body));
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new CliError(`${error.message}; nothing was registered`, {
      hint: "this relay (or something in its place) asks for a weaker key exchange than this " +
        "client makes: check the relay's URL and version with its operator",
    });
  }
  const keys: PasswordKey[] = [];
  for (const salt of salts) keys.push(await derivePasswordKey(password, salt));
  return keys;
}

function trimmed(url: string): string {
  return url.replace(/\/+$/, "");
}
