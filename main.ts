/**
 * Runs any role from source: `deno run -A main.ts <server|relay|client|admin> …`.
 * Each role also has its own entry file (`<role>/main.ts`), which is what gets compiled.
 *
 * @module
 */

const USAGE = `Usage: main.ts <role> [arguments…]

Roles:
  server   the root: registers clients, serves signed documents, decrypts and stores reports
  relay    store-and-forward between clients and a parent; optionally decrypting
  client   the agent on each endpoint
  admin    the site and key tool

Run "main.ts <role> --help" for a role's commands.
`;

const ENTRIES: Record<string, () => Promise<{ main: (args: string[]) => Promise<number> }>> = {
  server: () => import("./server/main.ts"),
  relay: () => import("./relay/main.ts"),
  client: () => import("./client/main.ts"),
  admin: () => import("./admin/main.ts"),
};

if (import.meta.main) {
  const [role, ...rest] = Deno.args;
  if (role === undefined || role === "-h" || role === "--help") {
    console.log(USAGE);
    Deno.exit(role === undefined ? 2 : 0);
  }
  const load = ENTRIES[role];
  if (!load) {
    console.error(`main.ts: error: unknown role "${role}"`);
    console.error("main.ts: hint: expected server, relay, client or admin");
    Deno.exit(2);
  }
  Deno.exit(await (await load()).main(rest));
}
