/**
 * `mle-admin reports`: what computers reported, decrypted and verified by the server (or a
 * decrypting relay) before it was stored: one computer's reports, or the newest across computers,
 * filtered, as text, JSON Lines or CSV, streamed from the store one report at a time.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { readInteger } from "../cli/flags.ts";
import { printWarning, UsageError } from "../cli/output.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import type { PropertyMatch, ReportQuery, ReportRecord } from "../store/mod.ts";
import {
  type CommandContext,
  parseComputerId,
  parseOptions,
  readListFormat,
  resolveDataDir,
  stringOption,
  stringsOption,
  TOOL,
  wantsHelp,
} from "./_args.ts";
import { csvField, formatTime } from "./_format.ts";
import { openExistingStore, requireKnownComputers } from "./_site.ts";

/** Usage of `mle-admin reports`. */
export const reportsHelp = `Usage:
  mle-admin reports [--computer ID] [--since WHEN] [--limit N] [--where NAME=VALUE …]
                    [--format text|json|csv | --json] [--data-dir DIR]

Shows stored reports: sequence number, when the server received it, whether it travelled
encrypted and to which key id, and the properties it reported. With --computer, that computer's
reports, oldest first; without, the newest reports across all computers (newest first, in the
order the server stored them). Reports are read and written one at a time, so an export of a
million reports takes no more memory than one.

Options:
  --computer ID      only this computer's reports (see mle-admin computers list)
  --since WHEN       only reports received since WHEN: a date or time (2025-06-01,
                     2025-06-01T12:00:00Z) or a span back from now (30m, 12h, 7d)
  --limit N          at most N reports [default: 100 for the text view across computers;
                     no limit otherwise]
  --where NAME=VALUE only reports whose property (or custom property) NAME is VALUE, compared as
                     text; repeat for several, all must hold
  --format FORMAT    text (default); json: one JSON object per line (JSON Lines) {computerId,
                     seq, receivedAt, encrypted, kid, report}; csv: a header, then computer_id,
                     seq, received_at (UTC ISO 8601), encrypted, kid, properties and custom (JSON)
  --json             a JSON array of {seq, receivedAt, encrypted, kid, report} (with computerId
                     when across computers), where report is the report as the client signed it
  --data-dir DIR     the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help         show this help

Examples:
  mle-admin reports --computer 12
  mle-admin reports --since 24h --where os=Linux
  mle-admin reports --since 2025-06-01 --format csv > reports.csv
  mle-admin reports --format json | jq .report.properties.hostname

Exit codes:
  0  done
  1  failed (no such computer, no server data dir there, …)
  2  misuse: unknown option, bad id, date, number or NAME=VALUE
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

/** Output formats of `mle-admin reports`. */
type ReportFormat = "text" | "json" | "csv" | "json-array";

/**
 * Parses `--since`: an ISO date or time, or a span back from `now` (`30m`, `12h`, `7d`).
 *
 * @throws {UsageError} For anything else.
 */
export function parseSince(value: string, now = Date.now()): number {
  const span = /^(\d{1,6})([mhd])$/.exec(value);
  if (span) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[span[2] as "m" | "h" | "d"];
    return now - Number(span[1]) * unit;
  }
  const time = /^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)
    ? Date.parse(value)
    : NaN;
  if (!Number.isFinite(time)) {
    throw new UsageError(
      `Cannot use --since "${value}": expected a date (2025-06-01), a time ` +
        "(2025-06-01T12:00:00Z) or a span (30m, 12h, 7d)",
    );
  }
  return time;
}

/**
 * Parses `--where NAME=VALUE`.
 *
 * @throws {UsageError} For a malformed pair or name.
 */
export function parsePropertyMatch(pair: string): PropertyMatch {
  const index = pair.indexOf("=");
  const name = index > 0 ? pair.slice(0, index) : "";
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(name)) {
    throw new UsageError(
      `Cannot use --where "${pair}": expected NAME=VALUE, NAME of letters, digits and _.:-`,
    );
  }
  return { name, value: pair.slice(index + 1) };
}

/** Writes text to stdout in blocks; a closed pipe (`| head`) ends the output quietly. */
class BlockWriter {
  #parts: string[] = [];
  #size = 0;
  #closed = false;
  readonly #encoder = new TextEncoder();

  get closed(): boolean {
    return this.#closed;
  }

  async write(text: string): Promise<void> {
    this.#parts.push(text);
    this.#size += text.length;
    if (this.#size >= 64 * 1024) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#parts.length === 0 || this.#closed) return;
    const bytes = this.#encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
    try {
      let written = 0;
      while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
    } catch (error) {
      if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
      this.#closed = true;
    }
  }
}

function viewOf(record: ReportRecord, withComputer: boolean) {
  const [view] = viewReports([record]);
  return withComputer ? { computerId: record.computerId, ...view } : view;
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
    format: { type: "string" },
    since: { type: "string" },
    limit: { type: "string" },
    where: { type: "string", multiple: true },
  });
  const computerText = stringOption(values, "computer");
  const id = computerText === undefined ? undefined : parseComputerId(computerText);
  const listFormat = readListFormat(values);
  const format: ReportFormat = listFormat.json ? "json-array" : listFormat.format;
  const limitText = stringOption(values, "limit");
  const given = readInteger("limit", limitText, undefined, { min: 1, max: 9_999_999_999 });
  const since = stringOption(values, "since");
  const query: ReportQuery = {
    order: id === undefined ? "newest" : "oldest",
    ...(id !== undefined ? { computerId: id } : {}),
    ...(since !== undefined ? { since: parseSince(since) } : {}),
    where: stringsOption(values, "where").map(parsePropertyMatch),
  };
  const limit = given !== undefined
    ? given
    : format === "text" && id === undefined
    ? DEFAULT_TEXT_LIMIT
    : undefined;
  if (limit !== undefined) query.limit = limit;
  const store = await openExistingStore(resolveDataDir(context));
  const out = new BlockWriter();
  let count = 0;
  try {
    if (id !== undefined) await requireKnownComputers(store, [id], "show reports of");
    if (format === "csv") {
      await out.write("computer_id,seq,received_at,encrypted,kid,properties,custom\r\n");
    }
    if (format === "json-array") await out.write("[");
    for await (const record of store.iterateReports(query)) {
      if (out.closed) break;
      count++;
      switch (format) {
        case "json":
          await out.write(JSON.stringify(viewOf(record, true)) + "\n");
          break;
        case "json-array":
          await out.write(
            (count === 1 ? "\n" : ",\n") +
              JSON.stringify(viewOf(record, id === undefined), null, 2).replace(/^/gm, "  "),
          );
          break;
        case "csv":
          await out.write(csvRow(record) + "\r\n");
          break;
        default: {
          const prefix = id === undefined ? `computer ${record.computerId} ` : "";
          await out.write(prefix + formatReports(viewReports([record])));
        }
      }
    }
    if (format === "json-array") await out.write(count === 0 ? "]\n" : "\n]\n");
    if (format === "text" && count === 0) {
      await out.write(
        id !== undefined ? `Computer ${id} has sent no reports yet\n` : "No reports match\n",
      );
    }
    await out.flush();
  } finally {
    store.close();
  }
  if (format === "text" && limit !== undefined && count === limit && limitText === undefined) {
    printWarning(TOOL, `showing the newest ${limit}; see more with --limit N or --since WHEN`);
  }
  return EXIT.ok;
}

/** Reports the text view shows across computers unless --limit says otherwise. */
const DEFAULT_TEXT_LIMIT = 100;

function csvRow(record: ReportRecord): string {
  let body: Record<string, unknown> | null = null;
  try {
    const parsed = JSON.parse(record.body);
    if (typeof parsed === "object" && parsed !== null) body = parsed;
  } catch {
    // Not JSON: empty property columns.
  }
  return [
    String(record.computerId),
    String(record.seq),
    formatTime(record.receivedAt),
    record.encrypted ? "yes" : "no",
    record.kid ?? "",
    body?.properties === undefined ? "" : JSON.stringify(body.properties),
    body?.custom === undefined ? "" : JSON.stringify(body.custom),
  ].map(csvField).join(",");
}
