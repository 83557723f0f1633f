/**
 * `npm start`: a local deployment on loopback, command by command as the README shows it, in a
 * temporary folder: a site, a 4096-bit MLE key generated with the seed's syntax (pending), then
 * deployed; a server and a relay as separate processes; a client registering and reporting with
 * encryption required; what the server stored. Exits 0 when the report arrived encrypted.
 *
 * @module
 */

import { freePort, RoleProcess, runRole } from "../tests/run_role.ts";
import type { Role } from "../cli/role_permissions.ts";
import { eventually, waitUntil } from "../tests/eventually.ts";

const PASSWORD = crypto.randomUUID(); // given to the admin tool through its environment only
const ENV = { MLE_SITE_PASSWORD: PASSWORD };

function step(text: string): void {
  console.log(`\n== ${text}`);
}

async function run(role: Role, args: string[]): Promise<string> {
  console.log(`$ mle-${role} ${args.join(" ")}`);
  const result = await runRole(role, args, { env: ENV });
  const output = (result.stdout + result.stderr).trimEnd();
  if (output) console.log(output.replace(/^/gm, "  "));
  if (result.code !== 0) throw new Error(`mle-${role} exited ${result.code}`);
  return result.stdout;
}

/**
 * Starts `mle-<role> run` on `port` of loopback, into `processes` (to be stopped, and their
 * output shown on failure), and waits until it says it listens.
 */
async function startListening(
  processes: RoleProcess[],
  role: Role,
  port: number,
  args: string[],
): Promise<void> {
  const started = new RoleProcess(role, ["run", "--listen", `127.0.0.1:${port}`, ...args]);
  processes.push(started);
  await started.waitFor("listening on");
  console.log(`  ${role} listening on http://127.0.0.1:${port}`);
}

async function main(): Promise<number> {
  const root = await Deno.makeTempDir({ prefix: "mle-demo-" });
  const serverPort = freePort();
  const relayPort = freePort();
  const serverDir = `${root}/server`;
  const clientDir = `${root}/client`;
  const relayDir = `${root}/relay`;
  const server = `http://127.0.0.1:${serverPort}`;
  const siteKey = `${root}/site/license.pvk`;
  const masthead = `${root}/site/masthead.json`;
  // The admin tool acts on the server's data dir, the client on its own: each command says which.
  const admin = (...args: string[]) => run("admin", [...args, "--data-dir", serverDir]);
  const client = (...args: string[]) => run("client", [...args, "--data-dir", clientDir]);
  const processes: RoleProcess[] = [];
  try {
    step("Create the site: site signing key, masthead, server data dir");
    await admin("init-site", "--site-key", siteKey, "--masthead", masthead, "--server-url", server);

    step("Start the server");
    // Free ports for the metrics and the console, so that the demo never clashes with a server
    // already here.
    const anyPort = "127.0.0.1:0";
    await startListening(processes, "server", serverPort, [
      "--data-dir",
      serverDir,
      "--ops-listen",
      anyPort,
      "--console-listen",
      anyPort,
    ]);

    step("Generate a 4096-bit MLE key the documented way, not yet deployed (Pending)");
    await admin(
      "-reportencryption",
      "-generatekey",
      "-privateKeySize=max",
      "-deploynow=no",
      `-outkeypath=${root}/usb`,
      `-sitePvkLocation=${siteKey}`,
    );
    await admin("encryption", "status");

    step("Start a relay between clients and the server");
    await startListening(processes, "relay", relayPort, [
      "--data-dir",
      relayDir,
      "--parent",
      server,
    ]);

    step("Deploy the key (Enabled): clients are now told to encrypt to it");
    await admin("-reportencryption", "-deploynow=yes", `-sitePvkLocation=${siteKey}`);
    await waitForCertificate(serverPort);

    step("A client registers and reports through the relay, encryption required");
    await client(
      "report",
      "--masthead",
      masthead,
      "--parent",
      `http://127.0.0.1:${relayPort}`,
      "--encryption",
      "required",
      "--property",
      "Owner=demo",
    );
    await client("status");

    step("What the server stored");
    const computerId = JSON.parse(
      (await runRole("client", ["status", "--data-dir", clientDir, "--json"])).stdout,
    ).computerId;
    const reports = await waitForReports(serverDir, computerId);
    await admin("computers", "list");
    await admin("reports", "--computer", String(computerId));
    if (!reports[0]?.encrypted) throw new Error("the report did not arrive encrypted");
    console.log(
      `\nDone: the report of computer ${computerId} crossed the relay encrypted and was stored.`,
    );
    return 0;
  } catch (error) {
    console.error(`demo: error: ${(error as Error).message}`);
    for (const process of processes) console.error(process.stderr);
    return 1;
  } finally {
    for (const process of processes.reverse()) await process.stop();
    await Deno.remove(root, { recursive: true });
  }
}

/** Waits until the server hands out the deployed key's certificate. */
async function waitForCertificate(port: number): Promise<void> {
  await waitUntil(
    async () => {
      const response = await fetch(`http://127.0.0.1:${port}/api/v1/encryption-certificate`);
      await response.body?.cancel();
      return response.status === 200;
    },
    "the server to pick up the deployed key",
    10_000,
  );
}

/** Waits until the server has stored a report of `computerId`, and gives what it stored. */
function waitForReports(
  serverDir: string,
  computerId: number,
): Promise<Array<{ encrypted: boolean }>> {
  return eventually(
    async () => {
      const args = ["reports", "--computer", String(computerId), "--data-dir", serverDir, "--json"];
      const result = await runRole("admin", args, { env: ENV });
      const reports: Array<{ encrypted: boolean }> = result.code === 0
        ? JSON.parse(result.stdout)
        : [];
      return reports.length > 0 ? reports : undefined;
    },
    "the server to store the report",
    20_000,
  );
}

if (import.meta.main) Deno.exit(await main());
