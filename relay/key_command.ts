/**
 * `mle-relay key [--data-dir DIR]`: prints the relay's own public key (raw Ed25519, base64url),
 * making the key pair in `<data-dir>/KeyStorage` if there is none yet. An authenticating parent
 * relay is given this key with `--trust-relay KEY` to admit the clients this relay admitted.
 * The private key never leaves its file.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError } from "../cli/output.ts";
import { parseFlags, readPath } from "../cli/flags.ts";
import { defaultRelayDataDir } from "../keystore/default_paths.ts";
import { RelayIdentity } from "./relay_identity.ts";

/** Help of `mle-relay key`. */
export const KEY_HELP = `Usage: mle-relay key [--data-dir DIR]

Prints this relay's public key (made on first use in DIR/KeyStorage, mode 0600). Give it to the
authenticating relay above this one: mle-relay run --authenticating --trust-relay KEY … there
admits the clients this relay admitted with its own passwords.

Options:
  --data-dir DIR  the relay's data dir (default ${defaultRelayDataDir()}; env MLE_RELAY_DATA_DIR)
  -h, --help      show this help

Example:
  mle-relay key --data-dir /var/opt/mle-relay
`;

/** Runs `mle-relay key`; returns the exit code. */
export async function printRelayKey(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): Promise<number> {
  const { values } = parseFlags(args, {
    "data-dir": { type: "string", path: true },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(KEY_HELP);
    return EXIT.ok;
  }
  const dataDir = values["data-dir"] ??
    readPath("data-dir", env("MLE_RELAY_DATA_DIR"), defaultRelayDataDir());
  let identity: RelayIdentity;
  try {
    identity = await RelayIdentity.open(dataDir);
  } catch (error) {
    throw new CliError(
      `Cannot read or make the relay's key in "${dataDir}": ${(error as Error).message}`,
      { hint: "give --data-dir the relay's data dir, as this user can read and write it" },
    );
  }
  console.log(identity.publicKeyText);
  return EXIT.ok;
}
