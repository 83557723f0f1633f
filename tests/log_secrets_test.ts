/**
 * No secret reaches a log: a whole deployment at the most verbose level (server, an
 * authenticating relay with a password file, a client with encryption required that registers
 * through it, a report with canary properties, an upload of a canary file, an admin key export
 * under a transfer password), with canary strings as every password and in every body; then every
 * log file and every captured output is searched for the canaries and for PEM private keys.
 */

import assert from "node:assert/strict";
import { runRole } from "./run_role.ts";
import {
  authenticatingRelayArgs,
  clientSiteArgs,
  createSite,
  freePort,
  generateKey,
  startRelay,
  startServer,
} from "./deployment.ts";

const SITE_PASSWORD = "canary-site-password-Zq81";
const RELAY_PASSWORD = "canary-relay-password-Wk27";
const TRANSFER_PASSWORD = "canary-transfer-password-Pm64";
const REPORT_CANARY = "canary-report-property-Hd53";
const UPLOAD_CANARY = "canary-upload-content-Rt09";
const CANARIES = [SITE_PASSWORD, RELAY_PASSWORD, TRANSFER_PASSWORD, REPORT_CANARY, UPLOAD_CANARY];

/** Every file under `dir` whose name says it is a log (`*.log`, `*.log.N`). */
async function logFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await logFilesUnder(path));
    else if (/\.log(\.\d+)?$/.test(entry.name)) found.push(path);
  }
  return found;
}

Deno.test("no password, report body, uploaded content or private key reaches any log at debug level", async () => {
  await using site = await createSite({ MLE_SITE_PASSWORD: SITE_PASSWORD });
  const outputs: [string, string][] = [];
  const keep = (what: string, result: { stdout: string; stderr: string }) =>
    outputs.push([what, result.stdout + result.stderr]);
  /** Runs one command of the deployment, requires it to succeed and keeps its output. */
  const runKept = async (
    what: string,
    role: "client" | "admin",
    args: string[],
    env?: Record<string, string>,
  ) => {
    const result = await runRole(role, args, { env });
    assert.equal(result.code, 0, result.stderr);
    keep(what, result);
  };
  await generateKey(site, true);
  const server = await startServer(site, [
    "--log-level",
    "debug",
    "--log-format",
    "json",
  ]);
  const passwordFile = `${site.root}/relay-password`;
  await Deno.writeTextFile(passwordFile, `${RELAY_PASSWORD}\n`, { mode: 0o600 });
  const relayPort = freePort();
  const relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort, [
    ...authenticatingRelayArgs(passwordFile),
    "--log-level",
    "debug",
    "--log-file",
    `${site.root}/logs/relay.log`,
  ]);
  const clientDir = `${site.root}/client`;
  const clientArgs = [...clientSiteArgs(site, clientDir), "--log-level", "debug"];
  try {
    await runKept("client register", "client", [
      "register",
      "--password-file",
      passwordFile,
      ...clientArgs,
      `http://127.0.0.1:${relayPort}`,
    ]);

    await runKept("client report", "client", [
      "report",
      "--encryption",
      "required",
      "--property",
      `Canary=${REPORT_CANARY}`,
      ...clientArgs,
    ]);

    const file = `${site.root}/canary.txt`;
    await Deno.writeTextFile(file, `${UPLOAD_CANARY}\n`.repeat(100));
    await runKept("client upload", "client", [
      "upload",
      file,
      "--wait",
      "--timeout",
      "60",
      "--encryption",
      "required",
      ...clientArgs,
    ]);

    await runKept("admin encryption export", "admin", [
      "encryption",
      "export",
      "--to",
      `${site.root}/usb`,
      "--data-dir",
      site.serverDir,
    ], { MLE_SITE_PASSWORD: SITE_PASSWORD, MLE_TRANSFER_PASSWORD: TRANSFER_PASSWORD });
  } finally {
    await relay.stop();
    await server.stop();
  }
  keep("server", server);
  keep("relay", relay);
  const files = await logFilesUnder(site.root);
  // The relay's --log-file and the client's default run log, both written at debug level.
  assert.ok(files.includes(`${site.root}/logs/relay.log`), files.join(", "));
  assert.ok(files.includes(`${clientDir}/logs/mle-client.log`), files.join(", "));
  for (const path of files) outputs.push([path, await Deno.readTextFile(path)]);
  // The logs did record the run (so the search below searched something).
  const all = outputs.map(([, text]) => text).join("\n");
  for (const expected of ["report spooled", "report stored", "cycle delivered", "admitted"]) {
    assert.ok(all.includes(expected), `no "${expected}" in the logs`);
  }
  for (const [what, text] of outputs) {
    for (const canary of CANARIES) assert.ok(!text.includes(canary), `${canary} in ${what}`);
    assert.ok(!text.includes("PRIVATE KEY"), `a PEM private key in ${what}`);
  }
});
