/**
 * The secrets a role may be given in its environment (`MLE_SITE_PASSWORD`, `MLE_TRANSFER_PASSWORD`,
 * `MLE_RELAY_PASSWORD`, `MLE_RELAY_SHARED_PASSWORD`: every `MLE_*_PASSWORD`). Every command
 * withdraws them from the process environment before it does anything (`runCommand`), so that no
 * process it starts (an init script, a service manager) inherits them; the command reads them
 * from here instead.
 *
 * What this cannot do: the kernel keeps a copy of the environment a process was started with
 * (`/proc/PID/environ` on Linux, readable by the same user and root), and the parent that set the
 * variable still has it. A password file that only its owner can read (`--password-file`) leaves
 * no such copy.
 *
 * @module
 */

/** Names of the environment variables that hold a secret. */
const SECRET_NAME = /^MLE_[A-Z0-9_]*PASSWORD$/i;

/** The secrets withdrawn from the environment, by name. */
const withdrawn = new Map<string, string>();

/** True when `name` is one of the variables that hold a secret. */
export function isSecretVariable(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * Moves every `MLE_*_PASSWORD` variable out of the process environment into this module, so that
 * no child process inherits it. Safe to call more than once: a variable set again is taken again.
 *
 * @example
 * ```ts ignore
 * import { withdrawSecretVariables, secretVariable } from "./secret_environment.ts";
 * withdrawSecretVariables();
 * Deno.env.get("MLE_SITE_PASSWORD"); // undefined
 * secretVariable("MLE_SITE_PASSWORD"); // the password, if it was set
 * ```
 */
export function withdrawSecretVariables(): void {
  let names: string[];
  try {
    names = Object.keys(Deno.env.toObject());
  } catch (error) {
    // Without permission to read the environment, a role cannot have read a secret from it either.
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      return;
    }
    throw error;
  }
  for (const name of names.filter(isSecretVariable)) secretVariable(name);
}

/**
 * The value of a secret variable: withdrawn earlier, else taken out of the environment now.
 * Undefined (or empty) when it was never set.
 *
 * @throws {RangeError} When `name` is not an `MLE_*_PASSWORD` variable.
 */
export function secretVariable(name: string): string | undefined {
  if (!isSecretVariable(name)) {
    throw new RangeError(`Cannot treat "${name}" as a secret variable: expected MLE_*_PASSWORD`);
  }
  const value = Deno.env.get(name);
  if (value !== undefined) {
    withdrawn.set(name, value);
    Deno.env.delete(name);
  }
  return withdrawn.get(name);
}
