/**
 * The searchable text of a report: the values of its retrieved and custom properties, one a line,
 * bounded. Both stores write it into `computers.search_text` in the statement that records a
 * computer's last report, so the console's search reads one short column per computer instead of
 * every computer's last report (a scan of 100,000 report bodies took 220-470 ms).
 *
 * @module
 */

import type { NewReport } from "./store.ts";

/** Most characters of searchable text kept per computer. */
export const MAX_SEARCH_TEXT = 4096;

/**
 * The values of a report's `properties` and `custom`, one a line (a list's items each on its own
 * line), at most {@linkcode MAX_SEARCH_TEXT} characters. Control characters become spaces (a NUL
 * cannot be stored as PostgreSQL text). A body that is not a JSON object gives "".
 *
 * @example
 * ```ts
 * import { reportSearchText } from "./report_search_text.ts";
 * const body = JSON.stringify({ properties: { os: "Debian 12" }, custom: { Tag: "A-1" } });
 * console.log(reportSearchText(body)); // "Debian 12\nA-1"
 * ```
 */
export function reportSearchText(body: string): string {
  let report: unknown;
  try {
    report = JSON.parse(body);
  } catch {
    return "";
  }
  return searchTextOf(report);
}

/**
 * {@linkcode reportSearchText} of a report already parsed: for the server, which reads each
 * report once (`server/report_to_store.ts`) and hands the stores its search text.
 */
export function searchTextOf(report: unknown): string {
  if (typeof report !== "object" || report === null) return "";
  const lines: string[] = [];
  let length = 0;
  const add = (value: unknown) => {
    if (length > MAX_SEARCH_TEXT) return;
    if (Array.isArray(value)) return value.forEach(add);
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      return;
    }
    let line = String(value);
    // deno-lint-ignore no-control-regex -- control characters are what this removes
    if (/[\u0000-\u001f\u007f]/.test(line)) line = line.replace(/[\u0000-\u001f\u007f]/g, " ");
    lines.push(line);
    length += line.length + 1;
  };
  for (const section of ["properties", "custom"] as const) {
    const values = (report as Record<string, unknown>)[section];
    if (typeof values === "object" && values !== null && !Array.isArray(values)) {
      Object.values(values).forEach(add);
    }
  }
  const text = lines.join("\n");
  return cutAtCodePoint(text, MAX_SEARCH_TEXT);
}

/** The first `max` UTF-16 units of `text`, never ending inside a surrogate pair. */
function cutAtCodePoint(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/**
 * What a store writes as the search text of a report it records: the text the server read with
 * the report ({@linkcode NewReport.searchText}), or, from a caller that did not read the body
 * (a report kept in the outage spool by an earlier version, the admin tool's tests), the text of
 * its body.
 */
export function searchTextFor(report: NewReport): string {
  return report.searchText ?? reportSearchText(report.body);
}
