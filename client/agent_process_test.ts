import assert from "node:assert/strict";
import { CliError } from "../cli/output.ts";
import { holdAgentLock, lockAgent, runningAgentPid } from "./agent_process.ts";

Deno.test("a service starting while rotate-keys holds the data dir's lock waits for it, then runs; without waiting it is refused", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mle-agent-lock-" });
  try {
    const rotation = await holdAgentLock(dir);
    assert.ok(rotation !== null);
    await assert.rejects(lockAgent(dir), CliError);
    const starting = lockAgent(dir, 10_000);
    let started = false;
    starting.then(() => started = true);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(started, false, "the service started while the key was changing");
    rotation.release();
    const service = await starting;
    assert.equal(await runningAgentPid(dir), Deno.pid);
    // While a service runs, rotate-keys does not take the lock: it tells the service instead.
    assert.equal(await holdAgentLock(dir), null);
    service.release();
    assert.equal(await runningAgentPid(dir), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
