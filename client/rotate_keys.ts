/**
 * `mle-client rotate-keys`: seed 002's procedure, done by the agent itself.
 *
 * 1. Deliver what is queued with the current key, while it is still valid (not with
 *    `--compromised`: then queued reports wait and are re-signed with the new key).
 * 2. Make the new key pair now and let the old key sign a hand-over for it, kept outside
 *    KeyStorage, so the server links the new computer to the old one. With `--compromised` the
 *    new key only claims to replace the old id, and the old key's statement is evidence for the
 *    operator, nothing more (a thief may hold that key too): the old id stays valid until the
 *    operator confirms the new computer.
 * 3. Delete the KeyStorage directory and all its contents (seed 002, step 1).
 * 4. Restart the agent (seed 002, step 2): signal a running `mle-client run` directly, else the
 *    platform's command; with neither, register the new key here, as the restarted agent would.
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
import { runningAgentPid, signalRestart } from "./agent_process.ts";
import { formatCommand, restartCommand, type ServiceSettings } from "./restart_command.ts";
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
  const restart = restartCommand(options.os, options.service);
  const servicePid = options.os === currentOsOf() ? await runningAgentPid(dataDir) : null;

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
        ? `4. leave the restart to the operator: ${formatCommand(restart)}`
        : servicePid !== null
        ? `4. restart the running agent (pid ${servicePid}) with SIGHUP`
        : `4. restart the agent: ${formatCommand(restart)}`,
    );
    print(
      "5. the agent registers the new key and gets a new computer id; the old id is no longer valid",
    );
    return { oldComputerId: oldId, newComputerId: null, pending: "dry run: nothing was changed" };
  }

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

  // 4: restart.
  if (options.noRestart) {
    print(`restart the agent to register the new key: ${formatCommand(restart)}`);
    return { oldComputerId: oldId, newComputerId: null, pending: "the agent was not restarted" };
  }
  if (servicePid !== null) {
    signalRestart(servicePid);
    print(`restarted the running agent (pid ${servicePid})`);
    const newId = await waitForNewId(dataDir, oldId, 15_000);
    return {
      oldComputerId: oldId,
      newComputerId: newId,
      pending: newId === null ? "the agent has not registered the new key yet" : null,
    };
  }
  if (await runRestart(restart)) {
    print(`restarted the agent: ${formatCommand(restart)}`);
    const newId = await waitForNewId(dataDir, oldId, 30_000);
    return {
      oldComputerId: oldId,
      newComputerId: newId,
      pending: newId === null ? "the agent has not registered the new key yet" : null,
    };
  }
  print("no agent service is installed here; registering the new key now");
  const agent = await Agent.open(agentOptions);
  const result = await agent.cycle();
  const newId = agent.state.computerId;
  return {
    oldComputerId: oldId,
    newComputerId: newId,
    pending: newId === null ? result.message : null,
  };
}

function currentOsOf(): TargetOs {
  return Deno.build.os === "windows" ? "windows" : Deno.build.os === "darwin" ? "macos" : "linux";
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

async function runRestart(argv: string[]): Promise<boolean> {
  if (argv[0].startsWith("/")) {
    try {
      await Deno.stat(argv[0]);
    } catch {
      return false;
    }
  }
  try {
    const status = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return status.success;
  } catch {
    return false;
  }
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
