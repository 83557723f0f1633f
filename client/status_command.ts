/**
 * `mle-client status`: what the agent of a data dir knows and holds, as text or JSON.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { effectiveLevel } from "./agent.ts";
import { type ClientFlagValues, dataDirOf } from "./client_flags.ts";
import { readState } from "./client_state.ts";
import { ReportQueue } from "./report_queue.ts";
import { clientLogSettings } from "./run_log.ts";
import { formatUploadViews, uploadViews } from "./upload_command.ts";

/** Prints the status of the data dir's agent; returns the exit code. */
export async function showStatus(values: ClientFlagValues): Promise<number> {
  const dataDir = dataDirOf(values);
  const state = await readState(joinPath(dataDir, "state.json"));
  const level = effectiveLevel(state);
  const summary = {
    computerId: state.computerId,
    parent: state.parent,
    parentWhy: state.parentWhy,
    parents: state.parents,
    keyStoragePath: state.keyStoragePath,
    encryptionLevel: level.level,
    encryptionLevelSource: level.source,
    encryptingNow: state.encryptingNow,
    parentAcceptsEncrypted: state.parentAcceptsEncrypted,
    certificateKid: state.certificateKid,
    heldBecause: state.heldBecause,
    deployedSettings: state.deployedSettings,
    lastAttemptAt: state.lastAttemptAt,
    lastSuccessAt: state.lastSuccessAt,
    lastFailure: state.lastFailure,
    nextCycle: state.nextCycle,
    queueDepth: await new ReportQueue(dataDir).depth(),
    uploads: await uploadViews(dataDir),
    logFile: clientLogSettings(values, dataDir).file,
  };
  if (values.json) {
    console.log(JSON.stringify(summary, null, 2));
    return EXIT.ok;
  }
  const line = (name: string, value: unknown) => console.log(`${name.padEnd(22)} ${value ?? "-"}`);
  line("Computer id", summary.computerId ?? "not registered");
  line("Parent", summary.parent);
  line("Parent because", summary.parentWhy);
  line("KeyStorage", summary.keyStoragePath);
  line("Encryption level", `${summary.encryptionLevel} (${summary.encryptionLevelSource})`);
  line("Encrypting now", summary.encryptingNow ? "yes" : "no");
  line(
    "Parent accepts MLE",
    summary.parentAcceptsEncrypted === null
      ? "unknown"
      : summary.parentAcceptsEncrypted
      ? "yes"
      : "no",
  );
  line("Certificate key id", summary.certificateKid ?? "none");
  line("Held", summary.heldBecause ?? "no");
  for (const [name, value] of Object.entries(summary.deployedSettings)) {
    line(`Setting ${name}`, value);
  }
  line("Last attempt", summary.lastAttemptAt);
  line("Last success", summary.lastSuccessAt);
  line(
    "Last failure",
    summary.lastFailure ? `${summary.lastFailure.at} ${summary.lastFailure.message}` : "none",
  );
  line("Next cycle", nextCycleLine(summary.nextCycle));
  line("Queued reports", summary.queueDepth);
  line("Log file", summary.logFile);
  for (const text of formatUploadViews(summary.uploads)) console.log(text);
  return EXIT.ok;
}

/** When the service's next cycle comes and why ("in 12 s (at …): parent busy, …"). */
function nextCycleLine(next: { at: string; reason: string } | null): string {
  if (next === null) return "no service waiting (mle-client run)";
  const inMs = Date.parse(next.at) - Date.now();
  const when = inMs >= 0 ? `in ${Math.ceil(inMs / 1000)} s` : "due now";
  return `${when} (at ${next.at}): ${next.reason}`;
}
