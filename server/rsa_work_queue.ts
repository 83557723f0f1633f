/**
 * Bounds the server's concurrent RSA private-key work: a few operations run at once (one per
 * core), a bounded number wait, and past that the request is refused at once with 503 and
 * `Retry-After` instead of piling up memory and latency for everyone.
 *
 * @module
 */

import { RETRY_LATER_CODE } from "../protocol/upload.ts";
import { IngestError } from "./ingest_error.ts";

/** Options of the queue. */
export interface RsaWorkQueueOptions {
  /** Operations run at once (default: the number of CPUs). */
  concurrency?: number;
  /** Operations that may wait for a turn (default 256). */
  maxWaiting?: number;
  /** What a refusal asks the sender to wait, in seconds (default 1). */
  retryAfterSeconds?: number;
}

/**
 * A bounded queue of RSA work.
 *
 * @example
 * ```ts
 * import { RsaWorkQueue } from "./rsa_work_queue.ts";
 * const queue = new RsaWorkQueue({ concurrency: 1, maxWaiting: 0 });
 * console.log(await queue.run(() => Promise.resolve(42))); // 42
 * ```
 */
export class RsaWorkQueue {
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  readonly #retryAfterSeconds: number;
  #running = 0;
  readonly #waiting: Array<() => void> = [];
  #refused = 0;

  constructor(options: RsaWorkQueueOptions = {}) {
    this.#concurrency = Math.max(1, options.concurrency ?? navigator.hardwareConcurrency ?? 1);
    this.#maxWaiting = Math.max(0, options.maxWaiting ?? 256);
    this.#retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }

  /** Requests refused because the queue was full, since start. */
  get refused(): number {
    return this.#refused;
  }

  /**
   * Refuses now if one more piece of work would not be taken (to check before charging anything
   * to the sender).
   *
   * @throws {IngestError} 503 `ERR_RETRY_LATER` with `Retry-After` when the queue is full.
   */
  ensureRoom(): void {
    if (this.#running < this.#concurrency || this.#waiting.length < this.#maxWaiting) return;
    this.#refused++;
    throw new IngestError(
      503,
      RETRY_LATER_CODE,
      "Cannot decrypt now: the server is busy with other new keys; retry after Retry-After",
      this.#retryAfterSeconds,
    );
  }

  /**
   * Runs `work` when a turn comes.
   *
   * @throws {IngestError} 503 `ERR_RETRY_LATER` with `Retry-After` when the queue is full.
   */
  async run<T>(work: () => Promise<T>): Promise<T> {
    this.ensureRoom();
    if (this.#running >= this.#concurrency) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next) next(); // the turn passes on: `running` stays the same
      else this.#running--;
    }
  }
}
