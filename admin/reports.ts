/**
 * `mle-admin reports --computer ID`: what one computer reported, decrypted and verified by the
 * server (or a decrypting relay) before it was stored.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import type { ReportRecord } from "../store/mod.ts";
import {
  type CommandContext,
  parseComputerId,
  parseOptions,
  requiredOption,
  resolveDataDir,
  wantsHelp,
} from "./_args.ts";
import { formatTime } from "./_format.ts";
import { openExistingStore } from "./_site.ts";

/** Usage of `mle-admin reports`. */
export const reportsHelp = `Usage:
  mle-admin reports --computer ID [--json] [--data-dir DIR]

Shows the reports a computer sent, oldest first: sequence number, when the server received it,
whether it travelled encrypted and to which key id, and the properties it reported.

Options:
  --computer ID    the computer id (see mle-admin computers list)
  --json           a JSON array of {seq, receivedAt, encrypted, kid, report}, where report is
                   the report as the client signed it
  --data-dir DIR   the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help       show this help

Examples:
  mle-admin reports --computer 12
  mle-admin reports --computer 12 --json

Exit codes:
  0  done
  1  failed (no such computer, no server data dir there, …)
  2  misuse: unknown option, missing --computer, bad id
`;

/** One report as `--json` prints it. */
export interface ReportView {
  seq: number;
  receivedAt: number;
  encrypted: boolean;
  kid: string | null;
  /** The parsed body, or the raw text when it is not JSON. */
  report: unknown;
}

/** Turns stored records into their JSON view. */
export function viewReports(records: readonly ReportRecord[]): ReportView[] {
  return records.map((record) => {
    let report: unknown;
    try {
      report = JSON.parse(record.body);
    } catch {
      report = record.body;
    }
    return {
      seq: record.seq,
      receivedAt: record.receivedAt,
      encrypted: record.encrypted,
      kid: record.kid,
      report,
    };
  });
}

/** Renders reports for people: a header line each, then its properties and custom values. */
export function formatReports(views: readonly ReportView[]): string {
  const lines: string[] = [];
  for (const view of views) {
    lines.push(
      `#${view.seq}  received ${formatTime(view.receivedAt)}  encrypted ${
        view.encrypted ? "yes" : "no"
      }  key ${view.kid ?? "-"}`,
    );
    const body = typeof view.report === "object" && view.report !== null
      ? view.report as Record<string, unknown>
      : null;
    if (body === null) {
      lines.push("  (the body is not a JSON object)");
      continue;
    }
    for (const section of ["properties", "custom"]) {
      const entries = body[section];
      if (typeof entries !== "object" || entries === null) continue;
      const pairs = Object.entries(entries as Record<string, unknown>);
      if (pairs.length === 0) continue;
      lines.push(`  ${section}:`);
      for (const [name, value] of pairs) {
        lines.push(`    ${name}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** Runs `mle-admin reports …`. */
export async function reportsCommand(args: string[], context: CommandContext): Promise<number> {
  if (wantsHelp(args)) {
    console.log(reportsHelp);
    return EXIT.ok;
  }
  const { values } = parseOptions(args, {
    computer: { type: "string" },
    json: { type: "boolean" },
  });
  const id = parseComputerId(requiredOption(values, "computer", "a computer id"));
  const store = await openExistingStore(resolveDataDir(context));
  let records: ReportRecord[];
  try {
    const computer = await store.getComputer(id);
    if (computer === null) {
      throw new CliError(`Cannot show reports of computer ${id}: no such computer`, {
        hint: "see the computers with: mle-admin computers list",
      });
    }
    records = await store.listReports(id);
  } finally {
    store.close();
  }
  const views = viewReports(records);
  if (values.json === true) {
    console.log(JSON.stringify(views, null, 2));
  } else if (views.length === 0) {
    console.log(`Computer ${id} has sent no reports yet`);
  } else {
    console.log(formatReports(views).trimEnd());
  }
  return EXIT.ok;
}
