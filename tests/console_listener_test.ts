/**
 * The console's listener as `mle-server run` serves it: on its own port, never the clients' one;
 * misuse of its flags exits 2; `--help` documents them.
 */

import assert from "node:assert/strict";
import { createSite, serverRunArgs, startServer } from "./deployment.ts";
import { runRole } from "./run_role.ts";

Deno.test("mle-server run: the console answers on its own listener only", async () => {
  await using site = await createSite();
  await using server = await startServer(site);
  const signIn = await fetch(`${server.consoleUrl}/sign-in`);
  assert.equal(signIn.status, 200);
  assert.match(await signIn.text(), /MLE console/);
  const onClientPort = await fetch(`http://127.0.0.1:${site.serverPort}/sign-in`);
  assert.equal(onClientPort.status, 404);
  await onClientPort.body?.cancel();
});

Deno.test("mle-server run: misuse of the console flags exits 2 with what to fix", async () => {
  await using site = await createSite();
  for (
    const [extra, message] of [
      [["--console-listen", `127.0.0.1:${site.serverPort}`], /console on the port clients reach/],
      [
        ["--console-tls-cert", "cert.pem"],
        /only one of --console-tls-cert and --console-tls-key/,
      ],
      [["--console-session-idle", "soon"], /--console-session-idle: Cannot read duration/],
    ] as const
  ) {
    const refused = await runRole(
      "server",
      serverRunArgs(site, ["--ops-listen", "127.0.0.1:0", ...extra]),
    );
    assert.equal(refused.code, 2, `${extra.join(" ")}: ${refused.stderr}`);
    assert.match(refused.stderr, message);
  }
});

Deno.test("mle-server --help documents the console flags", async () => {
  const help = await runRole("server", ["--help"]);
  assert.equal(help.code, 0);
  for (
    const flag of [
      "--console-listen",
      "--console-tls-cert",
      "--console-tls-key",
      "--console-session-idle",
    ]
  ) {
    assert.match(help.stdout, new RegExp(flag));
  }
  assert.match(help.stdout, /127\.0\.0\.1:52313/);
});
