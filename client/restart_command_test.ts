import assert from "node:assert/strict";
import { formatCommand } from "../cli/command_line.ts";
import { defaultServiceSettings, restartCommand } from "./restart_command.ts";

Deno.test("restartCommand() gives each platform's documented restart (seed 002) and systemd where it runs", () => {
  const linux = defaultServiceSettings("linux");
  assert.deepEqual(restartCommand("aix", defaultServiceSettings("aix")), [
    "/etc/rc.d/rc2.d/SBESClientd",
    "restart",
  ]);
  assert.deepEqual(restartCommand("hpux", defaultServiceSettings("hpux")), [
    "/sbin/init.d/besclient",
    "restart",
  ]);
  assert.deepEqual(restartCommand("solaris", defaultServiceSettings("solaris")), [
    "/etc/init.d/besclient",
    "restart",
  ]);
  assert.deepEqual(restartCommand("linux", linux), ["/etc/init.d/besclient", "restart"]);
  assert.deepEqual(restartCommand("linux", { ...linux, systemd: true }), [
    "systemctl",
    "restart",
    "besclient.service",
  ]);
  assert.deepEqual(restartCommand("macos", defaultServiceSettings("macos")), [
    "/usr/local/bin/mle-client",
    "-restart",
  ]);
  assert.equal(
    formatCommand(restartCommand("windows", defaultServiceSettings("windows"))),
    `powershell.exe -NoProfile -Command "Restart-Service -Name 'BES Client'"`,
  );
  assert.deepEqual(
    restartCommand("linux", { ...linux, initScript: "/etc/init.d/mle-client" }),
    ["/etc/init.d/mle-client", "restart"],
  );
});
