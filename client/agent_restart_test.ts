import assert from "node:assert/strict";
import { currentOs } from "../keystore/default_paths.ts";
import { planService } from "../service/service_plan.ts";
import { serviceRecordOf, writeServiceRecord } from "../service/service_record.ts";
import { lockAgent } from "./agent_process.ts";
import { planAgentRestart, runAgentRestart } from "./agent_restart.ts";
import { defaultServiceSettings } from "./restart_command.ts";

function initdRecord(dataDir: string) {
  return serviceRecordOf(
    "client",
    planService({
      name: "besclient",
      description: "test",
      argv: ["/usr/local/bin/mle-client", "run"],
      dataDir,
      writablePaths: [],
    }, { role: "client", os: "linux", manager: "initd", initTool: null }),
    new Date(),
  );
}

Deno.test({
  name:
    "planAgentRestart() prefers the recorded service, then a running agent, then the seed's command",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dataDir = await Deno.makeTempDir();
    const options = {
      dataDir,
      os: currentOs(),
      service: defaultServiceSettings("linux"),
      root: null,
    };
    try {
      assert.deepEqual(await planAgentRestart(options), {
        kind: "documented",
        argv: ["/etc/init.d/besclient", "restart"],
      });
      const lock = await lockAgent(dataDir);
      try {
        assert.deepEqual(await planAgentRestart(options), { kind: "signal", pid: Deno.pid });
        await writeServiceRecord(dataDir, initdRecord(dataDir));
        assert.deepEqual(await planAgentRestart(options), {
          kind: "service",
          manager: "initd",
          name: "besclient",
          argv: ["/etc/init.d/besclient", "restart"],
        });
      } finally {
        lock.release();
      }
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test({
  name: "planAgentRestart() runs a service staged with --root from where it was staged",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const root = await Deno.makeTempDir();
    const dataDir = "/var/opt/BESClient";
    try {
      await Deno.mkdir(`${root}${dataDir}`, { recursive: true });
      await writeServiceRecord(`${root}${dataDir}`, initdRecord(dataDir));
      const restart = await planAgentRestart({
        dataDir,
        os: "linux",
        service: defaultServiceSettings("linux"),
        root,
      });
      assert.deepEqual(restart, {
        kind: "service",
        manager: "initd",
        name: "besclient",
        argv: [`${root}/etc/init.d/besclient`, "restart"],
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("planAgentRestart() for Windows goes through the service manager, never a signal, even with an agent running", async () => {
  const dataDir = await Deno.makeTempDir();
  const lock = await lockAgent(dataDir);
  try {
    assert.deepEqual(
      await planAgentRestart({
        dataDir,
        os: "windows",
        service: defaultServiceSettings("windows"),
        root: null,
      }),
      {
        kind: "documented",
        argv: ["powershell.exe", "-NoProfile", "-Command", "Restart-Service -Name 'BES Client'"],
      },
    );
  } finally {
    lock.release();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test({
  name:
    "runAgentRestart() of an agent that exited before it was signalled says so instead of throwing",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const child = new Deno.Command("true", { stdout: "null", stderr: "null" }).spawn();
    await child.status;
    const outcome = await runAgentRestart({ kind: "signal", pid: child.pid });
    assert.equal(outcome, `the running agent (pid ${child.pid}) exited before it could be told`);
  },
});
