/**
 * `mle-admin computers list`: the registered computers as the server knows them.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { UsageError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import type { ComputerRecord } from "../store/mod.ts";
import { type CommandContext, parseOptions, resolveDataDir, wantsHelp } from "./_args.ts";
import { formatTable, formatTime } from "./_format.ts";
import { openExistingStore } from "./_site.ts";

/** Usage of `mle-admin computers`. */
export const computersHelp = `Usage:
  mle-admin computers list [--json] [--data-dir DIR]

Lists the registered computers: id, hostname, when it registered and last reported, the key id
its last report was encrypted to ("clear" when it was sent in clear text), the encryption level
it asks for, and whether it was revoked, replaced by a new id, or is a duplicate of another.
The table shortens key ids to 12 characters; --json gives every field in full.

Options:
  --json           a JSON array of computers (times in milliseconds since the epoch)
  --data-dir DIR   the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help       show this help

Examples:
  mle-admin computers list
  mle-admin computers list --json --data-dir /var/opt/mle-server

Exit codes:
  0  done
  1  failed (no server data dir there, …)
  2  misuse: unknown option
`;

/** Renders computers as the human table. */
export function formatComputers(computers: readonly ComputerRecord[]): string {
  if (computers.length === 0) return "No computers have registered yet\n";
  return formatTable(
    [
      "ID",
      "HOSTNAME",
      "REGISTERED",
      "LAST REPORT",
      "LAST KEY",
      "LEVEL",
      "REVOKED",
      "REPLACED BY",
      "DUPLICATE OF",
    ],
    computers.map((computer) => [
      String(computer.id),
      computer.hostname ?? "-",
      formatTime(computer.registeredAt),
      formatTime(computer.lastReportAt),
      computer.lastReportAt === null ? "-" : computer.lastKid?.slice(0, 12) ?? "clear",
      computer.encryptionLevel ?? "-",
      formatTime(computer.revokedAt),
      computer.replacedBy === null ? "-" : String(computer.replacedBy),
      computer.duplicateOf === null ? "-" : String(computer.duplicateOf),
    ]),
  );
}

/** Runs `mle-admin computers …`. */
export async function computersCommand(args: string[], context: CommandContext): Promise<number> {
  if (wantsHelp(args)) {
    console.log(computersHelp);
    return EXIT.ok;
  }
  const [sub, ...rest] = args;
  if (sub === undefined || sub.startsWith("-")) {
    throw new UsageError("Missing computers command: expected list");
  }
  if (sub !== "list") throw new UsageError(`Unknown computers command "${sub}": expected list`);
  const { values } = parseOptions(rest, { json: { type: "boolean" } });
  const store = await openExistingStore(resolveDataDir(context));
  let computers: ComputerRecord[];
  try {
    computers = await store.listComputers();
  } finally {
    store.close();
  }
  if (values.json === true) console.log(JSON.stringify(computers, null, 2));
  else console.log(formatComputers(computers).trimEnd());
  return EXIT.ok;
}
