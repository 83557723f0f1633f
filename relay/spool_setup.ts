/**
 * `mle-relay run`'s spool options (how much it holds, and for how long it keeps what its parent
 * refused), and the timer that expires the rejected folder.
 *
 * @module
 */

import { readDuration, readSize } from "../cli/flags.ts";
import type { Logger } from "../cli/log.ts";
import { MAX_REPORT_MESSAGE_BYTES } from "../protocol/limits.ts";
import {
  DEFAULT_REJECTED_MAX_AGE_MS,
  DEFAULT_REJECTED_MAX_BYTES,
  DEFAULT_SPOOL_MAX_BYTES,
  type Spool,
  type SpoolLimits,
} from "./spool.ts";

/** The `parseArgs` declarations of the spool options. */
export const SPOOL_RUN_OPTIONS = {
  "spool-max-size": { type: "string" },
  "spool-max-size-per-computer": { type: "string" },
  "rejected-max-age": { type: "string" },
  "rejected-max-size": { type: "string" },
} as const;

/** The smallest size the spool options take. */
const MIN_SPOOL_SIZE = 16 * 1024;
/** A computer's share of the spool by default: a twentieth of it (at least 1 MiB). */
const DEFAULT_SHARE_DIVISOR = 20;

/** Help lines of the spool options. */
export const SPOOL_RUN_HELP =
  `  --spool-max-size SIZE   most bytes of reports waiting for the parent (default 2G; env
                          MLE_RELAY_SPOOL_MAX_SIZE); when full, senders get 503 with Retry-After
                          and keep their reports queued; nothing accepted is dropped
  --spool-max-size-per-computer SIZE
                          most bytes of one computer's reports waiting (default a twentieth of
                          --spool-max-size, at least 1M), so that one sender cannot fill the spool
  --rejected-max-age AGE  how long reports the parent refused for good are kept in rejected/:
                          a number with s, m, h or d (default 7d)
  --rejected-max-size SIZE
                          most bytes kept in rejected/, the oldest deleted first (default 256M)`;

/**
 * Reads the spool options (flags first, then the environment, then defaults).
 *
 * @throws {UsageError} For a malformed size or age, naming the flag.
 */
export function parseSpoolRunArgs(
  values: Record<string, unknown>,
  env: (name: string) => string | undefined,
): Required<SpoolLimits> {
  const size = (flag: keyof typeof SPOOL_RUN_OPTIONS, text: string | undefined) =>
    readSize(flag, text, undefined, { min: MIN_SPOOL_SIZE, minText: "16K" });
  const maxBytes = size(
    "spool-max-size",
    (values["spool-max-size"] as string | undefined) ?? env("MLE_RELAY_SPOOL_MAX_SIZE"),
  ) ?? DEFAULT_SPOOL_MAX_BYTES;
  const share = size(
    "spool-max-size-per-computer",
    values["spool-max-size-per-computer"] as string | undefined,
  );
  const defaultShare = Math.min(
    maxBytes,
    Math.max(MAX_REPORT_MESSAGE_BYTES, Math.floor(maxBytes / DEFAULT_SHARE_DIVISOR)),
  );
  const rejectedMaxAgeMs = readDuration(
    "rejected-max-age",
    values["rejected-max-age"] as string | undefined,
    DEFAULT_REJECTED_MAX_AGE_MS,
  );
  return {
    maxBytes,
    maxBytesPerComputer: Math.min(share ?? defaultShare, maxBytes),
    rejectedMaxAgeMs,
    rejectedMaxBytes:
      size("rejected-max-size", values["rejected-max-size"] as string | undefined) ??
        DEFAULT_REJECTED_MAX_BYTES,
  };
}

/**
 * Expires the rejected folder now and then: every quarter of the maximum age, at least every
 * second and at most every ten minutes. Returns the function that stops it.
 */
export function startRejectedPruning(
  spool: Pick<Spool, "pruneRejected">,
  maxAgeMs: number,
  log: Logger,
): () => void {
  const prune = () => {
    spool.pruneRejected().then(
      (pruned) => {
        if (pruned > 0) log.info("deleted expired rejected reports", { count: pruned });
      },
      (error) => log.warn("cannot expire rejected reports", { error: (error as Error).message }),
    );
  };
  prune();
  const timer = setInterval(prune, Math.min(600_000, Math.max(1000, Math.floor(maxAgeMs / 4))));
  return () => clearInterval(timer);
}
