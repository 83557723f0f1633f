/**
 * Command lines shown to the operator: what a dry run would run, what to run by hand.
 *
 * @module
 */

/**
 * Quotes a command line for display: words of plain characters as they are, others in double
 * quotes.
 *
 * @example
 * ```ts
 * import { formatCommand } from "./command_line.ts";
 * console.log(formatCommand(["sc.exe", "start", "BES Client"])); // sc.exe start "BES Client"
 * ```
 */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((part) =>
    /^[\w@%+=:,./-]+$/.test(part) ? part : `"${part.replaceAll('"', '\\"')}"`
  )
    .join(" ");
}
