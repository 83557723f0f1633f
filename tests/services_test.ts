/**
 * Services (install-service, uninstall-service) with real processes: the init script made by
 * `mle-client install-service` runs the real client from source as a daemon, and rotate-keys
 * restarts it through that script; each role's files for each OS; systemd-analyze on the unit.
 */

import assert from "node:assert/strict";
import { clientConnectionArgs, clientStatus, createSite, startServer } from "./deployment.ts";
import { eventually } from "./eventually.ts";
import { type RoleResult, runRole } from "./run_role.ts";

async function sh(args: string[]): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command("/bin/sh", { args, stdin: "null", stderr: "inherit" })
    .output();
  return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
}

/**
 * Runs `mle-client install-service --root ROOT --manager MANAGER`, with `-- SERVICE_ARGS…` when
 * given (the command the service runs); its result, whatever its exit code.
 */
function installClientService(
  root: string,
  manager: string,
  serviceArgs: string[] = [],
): Promise<RoleResult> {
  const command = serviceArgs.length > 0 ? ["--", ...serviceArgs] : [];
  return runRole("client", ["install-service", "--root", root, "--manager", manager, ...command]);
}

Deno.test({
  name:
    "install-service makes an init script that runs the real client as a daemon; rotate-keys restarts it through that script",
  ignore: Deno.build.os === "windows",
  async fn() {
    const site = await createSite();
    const server = await startServer(site);
    const root = `${site.root}/root`;
    const clientDir = `${site.root}/client`;
    const script = `${root}/etc/init.d/besclient`;
    const connection = clientConnectionArgs(site, clientDir, site.serverPort);
    try {
      const installed = await installClientService(root, "initd", [
        "run",
        "--interval",
        "3600",
        ...connection,
      ]);
      assert.equal(installed.code, 0, installed.stderr);
      assert.match(installed.stdout, /it restarts with: \/etc\/init\.d\/besclient restart/);
      assert.equal((await Deno.stat(script)).mode! & 0o777, 0o755);
      assert.equal((await Deno.stat(`${root}${clientDir}/service.json`)).mode! & 0o777, 0o600);
      const again = await installClientService(root, "initd");
      assert.equal(again.code, 1);
      assert.match(again.stderr, /already exists.*\n.*--force/);

      const started = await sh([script, "start"]);
      assert.equal(started.code, 0, started.stdout);
      const firstPid = Number(/started \(pid (\d+)\)/.exec(started.stdout)![1]);
      const oldId = await eventually(async () => {
        const id = (await clientStatus(clientDir).catch(() => ({ computerId: null }))).computerId;
        return typeof id === "number" ? id : undefined;
      }, "the daemon to register");
      assert.deepEqual(await sh([script, "status"]), {
        code: 0,
        stdout: `besclient is running (pid ${firstPid})\n`,
      });

      const rotated = await runRole("client", ["rotate-keys", "--root", root, ...connection]);
      assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr);
      assert.ok(rotated.stdout.includes(`restarted the agent: ${script} restart`), rotated.stdout);
      const newId = (await clientStatus(clientDir)).computerId as number;
      assert.notEqual(newId, oldId);
      const status = await sh([script, "status"]);
      assert.equal(status.code, 0);
      assert.ok(!status.stdout.includes(`pid ${firstPid})`), "the daemon was restarted");

      assert.equal((await sh([script, "stop"])).stdout, "besclient stopped\n");
      assert.deepEqual(await sh([script, "status"]), {
        code: 3,
        stdout: "besclient is not running\n",
      });
      assert.match(await Deno.readTextFile(`${clientDir}/service.log`), /registered as computer/);

      const removed = await runRole("client", [
        "uninstall-service",
        "--root",
        root,
        "--data-dir",
        clientDir,
      ]);
      assert.equal(removed.code, 0, removed.stderr);
      await assert.rejects(() => Deno.stat(script), Deno.errors.NotFound);
      await assert.rejects(
        () => Deno.stat(`${root}${clientDir}/service.json`),
        Deno.errors.NotFound,
      );
    } finally {
      await sh([script, "stop"]).catch(() => {});
      await server.stop();
      await Deno.remove(site.root, { recursive: true });
    }
  },
});

Deno.test("install-service --root writes each role's service for each OS where the seeds expect it; with --root nothing runs and the commands for the target are printed", async () => {
  const root = await Deno.makeTempDir({ prefix: "mle-services-" });
  const cases: [("client" | "relay" | "server"), string, string, string][] = [
    ["client", "aix", "/etc/rc.d/rc2.d/SBESClientd", "/etc/rc.d/rc2.d/SBESClientd start"],
    ["client", "hpux", "/sbin/init.d/besclient", "/sbin/init.d/besclient start"],
    ["client", "macos", "/Library/LaunchDaemons/com.mle.besclient.plist", "launchctl bootstrap"],
    ["relay", "linux", "/etc/systemd/system/besrelay.service", "systemctl enable besrelay.service"],
    ["relay", "solaris", "/etc/init.d/besrelay", "/etc/init.d/besrelay start"],
    [
      "server",
      "linux",
      "/etc/systemd/system/besserver.service",
      "systemctl start besserver.service",
    ],
    ["server", "windows", "", 'sc.exe create "BES Root Server" binPath='],
  ];
  try {
    for (const [role, os, file, command] of cases) {
      const dataDir = os === "windows" ? "C:\\MLE\\server" : `/var/opt/${role}-${os}`;
      const stage = `${root}/${role}-${os}`;
      const runOptions = role === "relay" ? ["--parent", "http://server.example:52311"] : [];
      const args = [
        "install-service",
        "--root",
        stage,
        "--os",
        os,
        "--executable",
        os === "windows" ? `C:\\MLE\\mle-${role}.exe` : `/usr/local/bin/mle-${role}`,
        ...(os === "linux" ? ["--manager", "systemd"] : []),
        "--",
        "run",
        "--data-dir",
        dataDir,
        ...runOptions,
      ];
      const result = await runRole(role, args);
      assert.equal(result.code, 0, `${role} ${os}: ${result.stderr}`);
      assert.ok(result.stdout.includes(command), `${role} ${os}: ${result.stdout}`);
      if (file) {
        const text = await Deno.readTextFile(`${stage}${file}`);
        assert.ok(text.includes(`/usr/local/bin/mle-${role}`), `${role} ${os}: ${text}`);
        assert.ok(text.includes(dataDir), `${role} ${os}`);
      }
      const recordDir = os === "windows" ? `${stage}/C/MLE/server` : `${stage}${dataDir}`;
      const record = JSON.parse(await Deno.readTextFile(`${recordDir}/service.json`));
      assert.equal(record.role, role);
      assert.equal(record.os, os);
    }
    const password = await runRole("relay", [
      "install-service",
      "--dry-run",
      "--",
      "run",
      "--parent",
      "http://server.example:52311",
      "--password=secret",
    ]);
    assert.equal(password.code, 2);
    assert.ok(!password.stdout.includes("secret"));
    assert.match(password.stderr, /--password-file/);
    const wrongOs = await runRole("server", ["install-service", "--os", "aix"]);
    assert.equal(wrongOs.code, 2);
    assert.match(wrongOs.stderr, /--dry-run.*--root/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

const SYSTEMD_ANALYZE = (() => {
  try {
    return new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "the client's systemd unit passes systemd-analyze verify" +
    (SYSTEMD_ANALYZE ? "" : " (ignored: systemd-analyze is not installed on this machine)"),
  ignore: !SYSTEMD_ANALYZE,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "mle-unit-" });
    try {
      const installed = await installClientService(root, "systemd", [
        "run",
        "--data-dir",
        `${root}/client`,
      ]);
      assert.equal(installed.code, 0, installed.stderr);
      const unit = `${root}/etc/systemd/system/besclient.service`;
      const verified = await new Deno.Command("systemd-analyze", {
        args: ["verify", unit],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = new TextDecoder().decode(verified.stderr);
      assert.equal(verified.code, 0, said);
      // systemd-analyze exits 0 on a bad setting too: it names the unit in a warning instead.
      assert.ok(!said.includes("besclient.service"), said);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("rotate-keys --dry-run --os shows that OS's KeyStorage path and restart command", async () => {
  const expected: Record<string, [string, string]> = {
    macos: [
      "/Library/Application Support/BigFix/BES Agent/KeyStorage",
      "/usr/local/bin/mle-client -restart",
    ],
    windows: [
      "C:\\Program Files (x86)\\BigFix Enterprise\\BES Client\\KeyStorage",
      `powershell.exe -NoProfile -Command "Restart-Service -Name 'BES Client'"`,
    ],
    aix: ["/etc/opt/BESClient/KeyStorage", "/etc/rc.d/rc2.d/SBESClientd restart"],
    hpux: ["/etc/opt/BESClient/KeyStorage", "/sbin/init.d/besclient restart"],
  };
  for (const [os, [keyStorage, restart]] of Object.entries(expected)) {
    const dry = await runRole("client", ["rotate-keys", "--dry-run", "--os", os]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok(dry.stdout.includes(`3. delete ${keyStorage} and`), `${os}: ${dry.stdout}`);
    assert.ok(dry.stdout.includes(`4. restart the agent: ${restart}`), `${os}: ${dry.stdout}`);
  }
});

Deno.test("install-service makes a --log-file's folder writable in the systemd unit of the server and a relay", async () => {
  const root = await Deno.makeTempDir({ prefix: "mle-services-" });
  try {
    for (const role of ["server", "relay"] as const) {
      const stage = `${root}/${role}`;
      const result = await runRole(role, [
        "install-service",
        "--root",
        stage,
        "--os",
        "linux",
        "--manager",
        "systemd",
        "--executable",
        `/usr/local/bin/mle-${role}`,
        "--",
        "run",
        "--data-dir",
        `/var/opt/mle-${role}`,
        "--log-file",
        `/var/log/mle-${role}/${role}.log`,
        ...(role === "relay" ? ["--parent", "http://server.example:52311"] : []),
      ]);
      assert.equal(result.code, 0, result.stderr);
      const unit = await Deno.readTextFile(`${stage}/etc/systemd/system/bes${role}.service`);
      assert.match(unit, new RegExp(`^ReadWritePaths=.*"-/var/log/mle-${role}"`, "m"), unit);
      assert.ok(unit.includes(`"--log-file" "/var/log/mle-${role}/${role}.log"`), unit);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
