/**
 * How a script (bench, soak, herd, fuzz) reads its command line: through `cli/flags.ts`, like
 * every role, with the scripts' voice: `-h`/`--help` prints the usage and exits 0, a misuse prints
 * `<script>: error: …` and `<script>: hint: …` and exits 2 before anything is started.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { type FlagDeclarations, type FlagValues, parseFlags } from "../cli/flags.ts";
import { printError, UsageError } from "../cli/output.ts";

/** What a script says about its command line. */
export interface ScriptCommandLine<T extends FlagDeclarations, O> {
  /** The script's name in diagnostics (`bench`). */
  tool: string;
  /** Its flags; declare `help: { type: "boolean", short: "h" }` where `usage` is given. */
  flags: T;
  /** Turns the parsed values into the script's options (the `read*` of `cli/flags.ts`). */
  read: (values: FlagValues<T>) => O;
  /** The usage text `--help` prints; without it, a misuse points at the script's source. */
  usage?: string;
}

/**
 * Parses `args` against the script's flags and reads its options; on `--help` prints the usage
 * and exits 0, on a misuse prints the error and a hint and exits 2.
 *
 * @example
 * ```ts ignore
 * import { readInteger } from "../cli/flags.ts";
 * import { readScriptOptions } from "./script_flags.ts";
 * const options = readScriptOptions(Deno.args, {
 *   tool: "herd",
 *   flags: { clients: { type: "string" } },
 *   read: (values) => ({ clients: readInteger("clients", values.clients, 1000, { min: 1, max: 100_000 }) }),
 * });
 * ```
 */
export function readScriptOptions<const T extends FlagDeclarations, O>(
  args: readonly string[],
  commandLine: ScriptCommandLine<T, O>,
): O {
  const { tool, flags, read, usage } = commandLine;
  try {
    const { values } = parseFlags(args, flags);
    if (usage !== undefined && (values as Record<string, unknown>).help === true) {
      console.log(usage);
      Deno.exit(EXIT.ok);
    }
    return read(values);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(
      tool,
      error.message,
      usage === undefined ? `its flags are described at the top of scripts/${tool}.ts` : error.hint,
    );
    Deno.exit(EXIT.usage);
  }
}
