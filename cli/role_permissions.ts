/**
 * The Deno permissions of each role: the one place they are declared. `scripts/compile.ts` bakes
 * them into each executable and the tests run every role from source with exactly these flags,
 * so what is tested is what ships.
 *
 * - server: network (serve; PostgreSQL with `--database`), files (data dir, SQLite), environment
 *   (settings, `PG*` variables). No subprocesses: `mle-server install-service` writes the
 *   service's files and prints the service manager's commands (systemctl, sc.exe, launchctl…)
 *   for the administrator rather than running them.
 * - relay: the same. No subprocesses, no system information.
 * - client: also system information (the properties it reports: hostname, OS, memory, addresses,
 *   uptime) and subprocesses (restarting the agent service after a key rotation, seed 002, and
 *   running the service manager in install-service).
 * - admin: files, environment (password variables, `PG*`) and network: it works on the data dir,
 *   or on the PostgreSQL database of `--database` from any host that reaches it. The network
 *   cannot be narrowed to that host here (it is chosen at run time); the admin tool opens no
 *   connection but the database's, and listens on nothing.
 *
 * File access cannot be narrowed to paths here: data dirs, KeyStorage and key folders are chosen at
 * run time (`--data-dir`, `--storage-path`), after the permissions are fixed at compile time. What
 * narrows it is the code: a relay opens its `Encryption Keys` folder only with `--decrypt`.
 *
 * @module
 */

/** The four roles. */
export type Role = "server" | "relay" | "client" | "admin";

/** The roles, in the order they are built and documented. */
export const ROLES: readonly Role[] = ["server", "relay", "client", "admin"];

/** Permission flags per role. */
export const ROLE_PERMISSIONS: Record<Role, readonly string[]> = {
  server: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
  relay: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
  client: [
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    "--allow-sys",
    "--allow-run",
  ],
  admin: ["--allow-net", "--allow-read", "--allow-write", "--allow-env"],
};

/** The entry file of each role, relative to the repository root: what `deno compile` builds. */
export const ROLE_ENTRY: Record<Role, string> = {
  server: "server/main.ts",
  relay: "relay/main.ts",
  client: "client/main.ts",
  admin: "admin/main.ts",
};

/** The executable's name of each role. */
export const ROLE_EXECUTABLE: Record<Role, string> = {
  server: "mle-server",
  relay: "mle-relay",
  client: "mle-client",
  admin: "mle-admin",
};
