/**
 * `mle-client rotate-keys`: seed 002's procedure, done by the agent itself.
 *
 * 1. Deliver what is queued with the current key, while it is still valid (not with
 *    `--compromised`: then queued reports wait and are re-signed with the new key).
 * 2. Make the new key pair now and let the old key sign a hand-over for it, kept outside
 *    KeyStorage, so the server links the new computer to the old one. It names the last sequence
 *    number the old key spent: a report delivered to a relay (202, spooled) is not yet at the
 *    server, which accepts the old id's reports up to that number and refuses any later one. With `--compromised` the
 *    new key only claims to replace the old id, and the old key's statement is evidence for the
 *    operator, nothing more (a thief may hold that key too): the old id stays valid until the
 *    operator confirms the new computer.
 * 3. Delete the KeyStorage directory and all its contents (seed 002, step 1).
 * 4. Restart the agent (seed 002, step 2), through `agent_restart.ts`: the service
 *    install-service recorded, else (outside Windows) a running `mle-client run` told directly,
 *    else the platform's command; with none, register the new key here, as the restarted agent
 *    would.
 *
 * @module
 */

import { encodeBase64Url } from "../envelope/base64url.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import { exportSigningPublicKey, generateSigningKeyPair } from "../envelope/signature.ts";
import type { TargetOs } from "../keystore/default_paths.ts";
import { deleteKeyStorage, installClientKey } from "../keystore/key_storage.ts";
import { Agent, type AgentOptions } from "./agent.ts";
import { readState } from "./client_state.ts";
import { formatCommand } from "../cli/command_line.ts";
import { holdAgentLock } from "./agent_process.ts";
import { describeAgentRestart, planAgentRestart, runAgentRestart } from "./agent_restart.ts";
import type { ServiceSettings } from "./restart_command.ts";
import { writeRotationRecord } from "./rotation_record.ts";
import { signHandover } from "../protocol/handover.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { ReportQueue } from "./report_queue.ts";

/** How to rotate. */
export interface RotateOptions {
  agent: AgentOptions;
  compromised: boolean;
  dryRun: boolean;
  noRestart: boolean;
  os: TargetOs;
  service: ServiceSettings;
  /** install-service --root: the agent's service was staged under this folder. */
  root: string | null;
  /** Lines for the operator (stdout). */
  print: (line: string) => void;
}

/** What a rotation ended with. */
export interface RotateResult {
  oldComputerId: number | null;
  newComputerId: number | null;
  /** Why no new id was obtained, when none was. */
  pending: string | null;
}

/** Runs (or, with `dryRun`, describes) a key rotation. */
export async function rotateKeys(options: RotateOptions): Promise<RotateResult> {
  const { agent: agentOptions, print } = options;
  const dataDir = agentOptions.dataDir;
  const keyStorage = agentOptions.keyStoragePath;
  const state = await readState(joinPath(dataDir, "state.json"));
  const oldId = state.computerId;
  const queued = await new ReportQueue(dataDir).depth();
  let restart = await planAgentRestart({
    dataDir,
    os: options.os,
    service: options.service,
    root: options.root,
  });

  if (options.dryRun) {
    print(`Key rotation for ${options.os} (seed 002), computer ${oldId ?? "not registered"}:`);
    print(
      options.compromised
        ? `1. keep ${queued} queued report(s) to re-sign with the new key (the current key is compromised)`
        : `1. deliver ${queued} queued report(s) signed with the current key`,
    );
    print(
      options.compromised
        ? "2. make the new key pair; the current key signs a statement for it, shown to the operator as evidence only: the old id stays valid until the operator confirms the new one (mle-admin computers confirm NEW)"
        : "2. make the new key pair; the current key signs a hand-over for it",
    );
    print(`3. delete ${keyStorage} and everything in it:`);
    for (const file of await listFiles(keyStorage)) print(`     ${file}`);
    print(
      options.noRestart
        ? `4. leave the restart to the operator: ${describeAgentRestart(restart)}`
        : `4. restart the agent: ${describeAgentRestart(restart)}`,
    );
    print(
      "5. the agent registers the new key and gets a new computer id; the old id is no longer valid",
    );
    return { oldComputerId: oldId, newComputerId: null, pending: "dry run: nothing was changed" };
  }

  // No service runs: hold the data dir's lock while the key changes, so that a service starting
  // meanwhile waits and then loads the new key, never reporting on with the old one.
  const swapLock = restart.kind === "signal" ? null : await holdAgentLock(dataDir);
  if (restart.kind !== "signal" && swapLock === null) {
    // A service took the lock since the plan: tell it instead.
    restart = await planAgentRestart({
      dataDir,
      os: options.os,
      service: options.service,
      root: options.root,
    });
  }
  try {
    // 1 and 2: with the old key, while it is still valid (compromised: while it is still here).
    let newPair: CryptoKeyPair | null = null;
    let handover: FlattenedJws | null = null;
    if (oldId !== null || !options.compromised) {
      const agent = await Agent.open(agentOptions);
      if (!options.compromised && oldId !== null && queued > 0) {
        const delivered = await agent.cycle();
        print(
          delivered.outcome === "delivered"
            ? `delivered ${delivered.delivered} queued report(s) with the current key`
            : `kept ${delivered.queued} report(s) queued (${delivered.message}); they will be re-signed with the new key`,
        );
      }
      if (oldId !== null) {
        newPair = await generateSigningKeyPair();
        const newPublicKey = encodeBase64Url(await exportSigningPublicKey(newPair.publicKey));
        handover = await signHandover(agent.clientKey.privateKey, {
          oldComputerId: oldId,
          newPublicKey,
          issuedAt: Date.now(),
          // Reports up to here may still be in a relay's spool: the server accepts them.
          lastSeq: await lastSpentSeq(dataDir),
        });
      }
    }
    if (oldId !== null || options.compromised) {
      await writeRotationRecord(dataDir, {
        previousComputerId: oldId,
        compromised: options.compromised,
        handover,
        rotatedAt: new Date().toISOString(),
      });
    }

    // 3: the documented step.
    await deleteKeyStorage(keyStorage);
    print(`deleted ${keyStorage}`);
    if (newPair) await installClientKey(keyStorage, newPair);
  } finally {
    swapLock?.release();
  }

  // 4: restart.
  if (options.noRestart) {
    print(`restart the agent to register the new key: ${describeAgentRestart(restart)}`);
    return { oldComputerId: oldId, newComputerId: null, pending: "the agent was not restarted" };
  }
  const outcome = await runAgentRestart(restart);
  if (outcome === "ok") {
    print(
      restart.kind === "signal"
        ? `restarted the running agent (pid ${restart.pid})`
        : `restarted the agent: ${formatCommand(restart.argv)}`,
    );
    const newId = await waitForNewId(dataDir, oldId, restart.kind === "signal" ? 15_000 : 30_000);
    return {
      oldComputerId: oldId,
      newComputerId: newId,
      pending: newId === null ? "the agent has not registered the new key yet" : null,
    };
  }
  print(
    outcome === "absent"
      ? "no agent service is installed here; registering the new key now"
      : `could not restart the agent (${outcome}); registering the new key now`,
  );
  const agent = await Agent.open(agentOptions);
  const result = await agent.cycle();
  const newId = agent.state.computerId;
  return {
    oldComputerId: oldId,
    newComputerId: newId,
    pending: newId === null ? result.message : null,
  };
}

async function listFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) files.push(joinPath(folder, entry.name));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    files.push("(the folder does not exist)");
  }
  return files.sort();
}

/**
 * The last report sequence number spent here (0 when none): read again after the delivery, as
 * another `mle-client report` may have queued one meanwhile.
 */
async function lastSpentSeq(dataDir: string): Promise<number> {
  const state = await readState(joinPath(dataDir, "state.json"));
  return Math.max(state.nextSeq - 1, await new ReportQueue(dataDir).maxSeq(), 0);
}

async function waitForNewId(dataDir: string, oldId: number | null, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await readState(joinPath(dataDir, "state.json")).catch(() => null);
    if (state?.computerId != null && state.computerId !== oldId) return state.computerId;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return null;
}
