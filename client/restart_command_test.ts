import assert from "node:assert/strict";
import { DEFAULT_SERVICE, formatCommand, restartCommand } from "./restart_command.ts";

Deno.test("restartCommand() gives each platform's documented restart (seed 002) and systemd where it runs", () => {
  assert.deepEqual(restartCommand("aix", DEFAULT_SERVICE), [
    "/etc/rc.d/rc2.d/SBESClientd",
    "restart",
  ]);
  assert.deepEqual(restartCommand("hpux", DEFAULT_SERVICE), ["/sbin/init.d/besclient", "restart"]);
  assert.deepEqual(restartCommand("solaris", DEFAULT_SERVICE), [
    "/etc/init.d/besclient",
    "restart",
  ]);
  assert.deepEqual(restartCommand("linux", DEFAULT_SERVICE), ["/etc/init.d/besclient", "restart"]);
  assert.deepEqual(restartCommand("linux", { ...DEFAULT_SERVICE, systemd: true }), [
    "systemctl",
    "restart",
    "mle-client.service",
  ]);
  assert.deepEqual(restartCommand("macos", DEFAULT_SERVICE), [
    "/usr/local/bin/mle-client",
    "-restart",
  ]);
  assert.equal(
    formatCommand(restartCommand("windows", { ...DEFAULT_SERVICE, serviceName: "BES Client" })),
    `powershell.exe -NoProfile -Command "Restart-Service -Name 'BES Client'"`,
  );
  assert.deepEqual(
    restartCommand("linux", { ...DEFAULT_SERVICE, initScript: "/etc/init.d/mle-client" }),
    [
      "/etc/init.d/mle-client",
      "restart",
    ],
  );
});
