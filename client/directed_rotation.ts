/**
 * Carries out the rotation a site's directive asks (`mle-admin computers rotate-keys`), after a
 * cycle that noted it: exactly `mle-client rotate-keys` (`client/rotate_keys.ts`: queued reports
 * first, the old key's hand-over, KeyStorage deleted), then, instead of restarting the agent that
 * is running this very code, a fresh agent on the new key registers it and reports.
 *
 * @module
 */

import { currentOs } from "../keystore/default_paths.ts";
import { Agent, type AgentOptions, type CycleResult } from "./agent.ts";
import { defaultServiceSettings } from "./restart_command.ts";
import { rotateKeys } from "./rotate_keys.ts";

/** What a directed rotation left: the agent to go on with and its first cycle. */
export interface DirectedRotationResult {
  agent: Agent;
  cycle: CycleResult;
}

/**
 * When the site's directive asks this computer to rotate its keys (and it has not started that
 * rotation before), rotates them, registers the new key and runs one cycle with it; else null.
 * The rotation is recorded as started before anything is done, so a crash or a resend of the
 * directive never repeats it (the site asks again to retry).
 */
export async function carryOutDirectedRotation(
  agent: Agent,
  options: AgentOptions,
): Promise<DirectedRotationResult | null> {
  const due = await agent.startDirectedRotation();
  if (due === null) return null;
  options.say(
    `the site's rotation directive #${due.requestedIn} asks computer ${due.computerId} to rotate its keys` +
      (due.compromised ? " (compromised: no hand-over is trusted)" : ""),
  );
  await rotateKeys({
    agent: options,
    compromised: due.compromised,
    dryRun: false,
    // This process is the agent: it goes on with the new key itself rather than restarting.
    noRestart: true,
    os: currentOs(),
    service: { ...defaultServiceSettings(currentOs()), systemd: false },
    root: null,
    print: (line) => {
      if (!line.startsWith("restart the agent")) options.say(line);
    },
  });
  const next = await Agent.open(options);
  return { agent: next, cycle: await next.cycle() };
}
