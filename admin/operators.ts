/**
 * `mle-admin operators add|list|remove|passwd`: who may sign in to the server's web console
 * (`mle-server run --console-listen`). Passwords are stored as a slow salted hash
 * (`keystore/operator_password.ts`) and come from a file, the environment or a prompt, never the
 * command line.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { readPassword } from "../cli/password.ts";
import { defaultServerDataDir } from "../keystore/default_paths.ts";
import {
  hashOperatorPassword,
  MAX_OPERATOR_PASSWORD_LENGTH,
  MIN_OPERATOR_PASSWORD_LENGTH,
} from "../keystore/operator_password.ts";
import type { OperatorRole } from "../store/mod.ts";
import {
  type AdminCommand,
  type CommandContext,
  parseOptions,
  resolveDataDir,
  stringOption,
  subcommandGroup,
  TOOL,
} from "./_args.ts";
import { formatTable, formatTime } from "./_format.ts";
import { openExistingStore } from "./_site.ts";
import { printWarning } from "../cli/output.ts";

/** Where an operator's new password may come from in the environment. */
export const OPERATOR_PASSWORD_ENV = "MLE_OPERATOR_PASSWORD";

/** Usage of `mle-admin operators`. */
export const operatorsHelp = `Usage:
  mle-admin operators add NAME [--role admin|viewer] [--password-file FILE] [--data-dir DIR]
  mle-admin operators passwd NAME [--password-file FILE] [--data-dir DIR]
  mle-admin operators remove NAME [--data-dir DIR]
  mle-admin operators list [--json] [--data-dir DIR]

Who may sign in to the web console (mle-server run --console-listen). A viewer sees everything
the console shows except the audit log; an admin also makes decisions (each one signed with the
site key inside the browser) and reads the audit log. Passwords are stored as a salted scrypt
hash; they are at least ${MIN_OPERATOR_PASSWORD_LENGTH} characters. Sessions of a removed operator
or one whose password changed end at their next request.

Options:
  --role ROLE          admin or viewer [default: viewer]
  --password-file FILE read the operator's password from FILE's first line (only its owner may
                       read FILE: chmod 600 FILE) [env: ${OPERATOR_PASSWORD_ENV}; else a prompt]
  --json               (list) JSON output
  --data-dir DIR       the server data dir [env: MLE_DATA_DIR; default: ${defaultServerDataDir()}]
  -h, --help           show this help

Examples:
  mle-admin operators add alice --role admin
  mle-admin operators add bob --password-file ~/bob.pw
  mle-admin operators passwd alice
  mle-admin operators list

Exit codes:
  0  done
  1  failed (no server data dir, no such operator, name taken, password too short)
  2  misuse: unknown command or option, bad name or role; a password file others can read
`;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Checks an operator name: letters, digits and `._@-`, at most 64 characters. */
export function parseOperatorName(value: string | undefined): string {
  if (value === undefined) {
    throw new UsageError("Missing operator name: mle-admin operators … NAME");
  }
  if (!NAME.test(value)) {
    throw new UsageError(
      "Cannot use that operator name: expected letters, digits and . _ @ -, at most 64 characters",
    );
  }
  return value;
}

/** Runs `mle-admin operators …`. */
export const operatorsCommand: AdminCommand = subcommandGroup("operators", operatorsHelp, {
  add: (rest, context) => addOrChangePassword("add", rest, context),
  passwd: (rest, context) => addOrChangePassword("passwd", rest, context),
  remove: removeOperator,
  list: listOperators,
});

async function addOrChangePassword(
  sub: "add" | "passwd",
  args: string[],
  context: CommandContext,
): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    ...(sub === "add" ? { role: { type: "string" } } : {}),
    "password-file": { type: "string" },
  }, true);
  if (positionals.length !== 1) {
    throw new UsageError(`Expected one name: operators ${sub} NAME`);
  }
  const name = parseOperatorName(positionals[0]);
  const role = parseRole(stringOption(values, "role"));
  const password = await newPassword(name, stringOption(values, "password-file"));
  const store = await openExistingStore(resolveDataDir(context));
  try {
    const passwordHash = await hashOperatorPassword(password);
    if (sub === "add") {
      if (!await store.addOperator({ name, role, passwordHash, createdAt: Date.now() })) {
        throw new CliError(`Cannot add operator "${name}": the name is taken`, {
          hint: `change the password with: mle-admin operators passwd ${name}`,
        });
      }
      console.log(`Added operator ${name} (${role})`);
    } else {
      if (!await store.setOperatorPassword(name, passwordHash)) throw noSuchOperator(name);
      console.log(`Changed the password of operator ${name}; their sessions have ended`);
    }
    await store.appendAudit({
      at: Date.now(),
      operator: `${TOOL}`,
      action: sub === "add" ? "operator-added" : "operator-password-changed",
      detail: sub === "add" ? `${name} (${role})` : name,
    });
    return EXIT.ok;
  } finally {
    store.close();
  }
}

async function removeOperator(args: string[], context: CommandContext): Promise<number> {
  const { positionals } = parseOptions(args, {}, true);
  if (positionals.length !== 1) {
    throw new UsageError("Expected one name: operators remove NAME");
  }
  const name = parseOperatorName(positionals[0]);
  const store = await openExistingStore(resolveDataDir(context));
  try {
    if (!await store.removeOperator(name)) throw noSuchOperator(name);
    await store.appendAudit({
      at: Date.now(),
      operator: TOOL,
      action: "operator-removed",
      detail: name,
    });
    console.log(`Removed operator ${name}; their sessions have ended`);
    return EXIT.ok;
  } finally {
    store.close();
  }
}

async function listOperators(args: string[], context: CommandContext): Promise<number> {
  const { values } = parseOptions(args, { json: { type: "boolean" } });
  const store = await openExistingStore(resolveDataDir(context));
  try {
    const operators = (await store.listOperators()).map(({ name, role, createdAt }) => ({
      name,
      role,
      createdAt,
    }));
    if (values.json === true) console.log(JSON.stringify(operators, null, 2));
    else if (operators.length === 0) {
      console.log("No operators yet: add one with mle-admin operators add NAME --role admin");
    } else {
      console.log(
        formatTable(
          ["NAME", "ROLE", "ADDED"],
          operators.map((o) => [o.name, o.role, formatTime(o.createdAt)]),
        ).trimEnd(),
      );
    }
    return EXIT.ok;
  } finally {
    store.close();
  }
}

function parseRole(value: string | undefined): OperatorRole {
  if (value === undefined || value === "viewer") return "viewer";
  if (value === "admin") return "admin";
  throw new UsageError(`Unknown role "${value}": expected admin or viewer`);
}

async function newPassword(name: string, file: string | undefined): Promise<string> {
  const password = await readPassword({
    file,
    envName: OPERATOR_PASSWORD_ENV,
    prompt: `Password for operator ${name}: `,
    confirm: true,
    warn: (message) => printWarning(TOOL, message),
  });
  if (password.length < MIN_OPERATOR_PASSWORD_LENGTH) {
    throw new CliError(
      `Cannot use that password: it is shorter than ${MIN_OPERATOR_PASSWORD_LENGTH} characters`,
      { hint: "choose a longer passphrase" },
    );
  }
  if (password.length > MAX_OPERATOR_PASSWORD_LENGTH) {
    throw new CliError(
      `Cannot use that password: it is longer than ${MAX_OPERATOR_PASSWORD_LENGTH} characters`,
    );
  }
  return password;
}

function noSuchOperator(name: string): CliError {
  return new CliError(`Cannot find operator "${name}"`, {
    hint: "see the operators with: mle-admin operators list",
  });
}
