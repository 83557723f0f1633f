/**
 * `mle-admin uploads list [--computer ID] [--json]`: the files computers sent through the Upload
 * Manager, as the server recorded them.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import { joinPath } from "../keystore/secure_file.ts";
import type { UploadRecord } from "../store/upload_records.ts";
import {
  type AdminCommand,
  type CommandContext,
  parseComputerId,
  parseOptions,
  resolveDataDir,
  stringOption,
  subcommandGroup,
} from "./_args.ts";
import { formatTable, formatTime } from "./_format.ts";
import { openExistingUploadRecords } from "./_site.ts";

/** Usage of `mle-admin uploads`. */
export const uploadsHelp = `Usage:
  mle-admin uploads list [--computer ID] [--json] [--data-dir DIR]

Lists the files computers uploaded, oldest first: computer id, upload id, the stored name (under
DIR/uploads/<computer id>/), size, state (receiving, complete or failed, with the reason), whether
it travelled encrypted, its SHA-256, which the server checked against the one the client
declared inside the encryption, and the server that holds the file (servers sharing a database
each keep the files they received, under their own data dir; "-" for uploads recorded before
servers were named). The name the client declared is shown as sent; the stored name is the
sanitised one.

Options:
  --computer ID    only this computer's uploads
  --json           a JSON array of uploads, with the server holding each and the stored file's
                   path in that server's data dir (times in milliseconds)
  --data-dir DIR   the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help       show this help

Examples:
  mle-admin uploads list
  mle-admin uploads list --computer 12 --json

Exit codes:
  0  done
  1  failed (no server data dir there, …)
  2  misuse: unknown option, bad computer id
`;

/** One upload as `--json` prints it. */
export interface UploadView extends UploadRecord {
  /** The stored file's path, once complete (in the data dir of the server holding it). */
  path: string | null;
}

/** Renders uploads as the human table. */
export function formatUploads(uploads: readonly UploadView[]): string {
  if (uploads.length === 0) return "No uploads yet\n";
  return formatTable(
    [
      "COMPUTER",
      "UPLOAD ID",
      "NAME",
      "SIZE",
      "STATE",
      "ENCRYPTED",
      "RECEIVED",
      "SHA-256",
      "SERVER",
    ],
    uploads.map((upload) => [
      String(upload.computerId),
      upload.uploadId.slice(0, 12),
      JSON.stringify(upload.storedName ?? upload.declaredName).slice(1, -1),
      String(upload.size),
      upload.state === "failed" ? `failed (${upload.error ?? "?"})` : upload.state,
      upload.encrypted ? "yes" : "no",
      formatTime(upload.completedAt ?? upload.createdAt),
      upload.sha256.slice(0, 16),
      upload.server ?? "-",
    ]),
  );
}

/** Runs `mle-admin uploads …`. */
export const uploadsCommand: AdminCommand = subcommandGroup("uploads", uploadsHelp, {
  list: listUploads,
});

async function listUploads(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseOptions(args, {
    computer: { type: "string" },
    json: { type: "boolean" },
  });
  const computerText = stringOption(values, "computer");
  const computer = computerText === undefined ? undefined : parseComputerId(computerText);
  const dataDir = resolveDataDir(context);
  // Refuses a data dir that holds no server database, without creating one.
  const records = await openExistingUploadRecords(dataDir);
  let uploads: UploadRecord[];
  try {
    uploads = await records.listUploads(computer);
  } finally {
    records.close();
  }
  const views: UploadView[] = uploads.map((upload) => ({
    ...upload,
    path: upload.state === "complete" && upload.storedName !== null
      ? joinPath(dataDir, "uploads", String(upload.computerId), upload.storedName)
      : null,
  }));
  if (values.json === true) console.log(JSON.stringify(views, null, 2));
  else console.log(formatUploads(views).trimEnd());
  return EXIT.ok;
}
