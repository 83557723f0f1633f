/**
 * Exit codes shared by every executable, documented in each command's help.
 *
 * @module
 */

/** Documented exit codes. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The command failed (the message says why and what to do). */
  failure: 1,
  /** Misuse: unknown option, missing argument, bad value. */
  usage: 2,
  /** Nothing was sent: data stays queued (for example level required without a certificate). */
  queued: 3,
  /** The parent or server could not be reached; data stays queued. */
  unreachable: 4,
} as const;
