/**
 * Waiting out a busy parent (503 or 429 with `Retry-After`) within the session's deadline.
 *
 * @module
 */

import { retryAfterDelayMs } from "../protocol/backoff.ts";
import type { UploadAnswer } from "../protocol/upload_fetch.ts";

/**
 * Waits out a busy answer (503, 429) if the deadline leaves room: "waited" (ask again), "timeout"
 * (the wait would pass the deadline; nothing waited) or "no" (the answer is not a busy one).
 *
 * @example
 * ```ts ignore
 * const waited = await waitIfParentBusy(answer, deadline);
 * if (waited === "waited") continue;
 * ```
 */
export async function waitIfParentBusy(
  answer: UploadAnswer,
  deadline: number,
): Promise<"waited" | "timeout" | "no"> {
  if (answer.status !== 503 && answer.status !== 429) return "no";
  // No earlier than the parent said, with jitter above it: chunks refused together (a full disk,
  // a full buffer) do not all come back in the same instant.
  const wait = retryAfterDelayMs(answer.retryAfterMs ?? 1000);
  if (Date.now() + wait > deadline) return "timeout";
  await sleep(Math.max(50, wait));
  return "waited";
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { sleep } from "./parent_busy_wait.ts";
 * await sleep(1);
 * ```
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
