import assert from "node:assert/strict";
import type { TargetOs } from "../keystore/default_paths.ts";
import {
  defaultServiceName,
  isServiceName,
  planService,
  serviceManagerFor,
  type ServiceRole,
  underRoot,
} from "./service_plan.ts";

function plan(
  role: ServiceRole,
  os: TargetOs,
  systemd = false,
  initTool: "update-rc.d" | null = null,
) {
  return planService({
    name: defaultServiceName(role, os),
    description: "test",
    argv: ["/opt/mle/bin/mle", "run"],
    dataDir: "/var/opt/test",
    writablePaths: [],
  }, { role, os, manager: serviceManagerFor(os, systemd), initTool });
}

Deno.test("planService() puts each OS's service where the seeds and the platform expect it", () => {
  const expected: [ServiceRole, TargetOs, boolean, string[], string][] = [
    [
      "client",
      "linux",
      true,
      ["/etc/systemd/system/besclient.service"],
      "systemctl restart besclient.service",
    ],
    ["client", "linux", false, ["/etc/init.d/besclient"], "/etc/init.d/besclient restart"],
    ["client", "solaris", false, ["/etc/init.d/besclient"], "/etc/init.d/besclient restart"],
    ["client", "hpux", false, ["/sbin/init.d/besclient"], "/sbin/init.d/besclient restart"],
    [
      "client",
      "aix",
      false,
      ["/etc/rc.d/rc2.d/SBESClientd"],
      "/etc/rc.d/rc2.d/SBESClientd restart",
    ],
    [
      "client",
      "macos",
      false,
      ["/Library/LaunchDaemons/com.mle.besclient.plist"],
      "launchctl kickstart -k system/com.mle.besclient",
    ],
    [
      "client",
      "windows",
      false,
      [],
      "powershell.exe -NoProfile -Command Restart-Service -Name 'BES Client'",
    ],
    [
      "relay",
      "linux",
      true,
      ["/etc/systemd/system/besrelay.service"],
      "systemctl restart besrelay.service",
    ],
    ["relay", "aix", false, ["/etc/rc.d/rc2.d/SBESRelayd"], "/etc/rc.d/rc2.d/SBESRelayd restart"],
    [
      "server",
      "windows",
      false,
      [],
      "powershell.exe -NoProfile -Command Restart-Service -Name 'BES Root Server'",
    ],
    ["server", "hpux", false, ["/sbin/init.d/besserver"], "/sbin/init.d/besserver restart"],
  ];
  for (const [role, os, systemd, files, restart] of expected) {
    const planned = plan(role, os, systemd);
    assert.deepEqual(planned.files.map((file) => file.path), files, `${role} ${os}`);
    assert.equal(planned.restart.join(" "), restart, `${role} ${os}`);
  }
  assert.equal(plan("server", "windows").install[0][2], "BES Root Server");
  assert.deepEqual(plan("client", "hpux").links.map((link) => link.path), [
    "/sbin/rc3.d/S900besclient",
    "/sbin/rc2.d/K100besclient",
  ]);
  assert.deepEqual(plan("client", "linux", false, "update-rc.d").install, [
    ["update-rc.d", "besclient", "defaults"],
  ]);
  assert.equal(plan("client", "linux").files[0].mode, 0o755);
});

Deno.test("isServiceName() refuses names that could escape a folder or a unit line", () => {
  assert.ok(isServiceName("besclient", "linux"));
  assert.ok(isServiceName("BES Client", "windows"));
  for (const name of ["../x", "a/b", "", "bes client", "a\nb", "x".repeat(65)]) {
    assert.ok(!isServiceName(name, "linux"), name);
  }
});

Deno.test("underRoot() stages final paths under a folder, Windows drives included", () => {
  assert.equal(underRoot(null, "/etc/init.d/besclient"), "/etc/init.d/besclient");
  assert.equal(underRoot("/tmp/pkg/", "/etc/init.d/besclient"), "/tmp/pkg/etc/init.d/besclient");
  assert.equal(underRoot("/tmp/pkg", "C:\\BES Client"), "/tmp/pkg/C/BES Client");
  assert.equal(underRoot("/tmp/pkg", "C:\\MLE\\server"), "/tmp/pkg/C/MLE/server");
});
