/**
 * The one delivery loop of the relay, which its three forwarders configure (`relay/forwarder.ts`
 * for the spool, `relay/decrypting_forwarder.ts` for bundles, `relay/upload_forwarder.ts` for
 * uploads): start, wake, the sends in flight, their back-off (`relay/_delivery_backoff.ts`: a
 * doubling delay, or the parent's `Retry-After`, with jitter) and the graceful stop.
 *
 * What to send is the forwarder's: whenever the loop may send (started, not backing off; at
 * start, on `wake`, when a send ends, when the retry delay is over) it calls the forwarder's
 * `fill`, which starts what may start now through {@linkcode DeliveryLoop.run}. Nothing starts
 * while the retry timer is set. Each forwarder extends {@linkcode LoopedForwarder}, which owns
 * its loop and gives the relay the same start, wake, stop and state of all three.
 *
 * @module
 */

import { DeliveryBackoff, type DeliveryBackoffOptions } from "./_delivery_backoff.ts";

/** Options of a {@linkcode DeliveryLoop}: its back-off's, and what it sends. */
export interface DeliveryLoopOptions extends Omit<DeliveryBackoffOptions, "onRetry"> {
  /**
   * Starts, through {@linkcode DeliveryLoop.run}, the sends that may start now (as many as the
   * forwarder's own bounds allow; none when nothing waits). Must not throw.
   */
  fill: () => void;
}

/**
 * Runs a forwarder's sends: never while backing off, again whenever one ends.
 *
 * @example
 * ```ts
 * import { DeliveryLoop } from "./_delivery_loop.ts";
 * import { silentLogger } from "../cli/log.ts";
 * const waiting = ["a", "b"];
 * const loop: DeliveryLoop = new DeliveryLoop({
 *   minMs: 500,
 *   maxMs: 30_000,
 *   log: silentLogger,
 *   waiting: () => waiting.length,
 *   fill: () => {
 *     while (loop.sending < 1 && waiting.length > 0) {
 *       const message = waiting.shift();
 *       loop.run(Promise.resolve().then(() => console.log("sent", message)));
 *     }
 *   },
 * });
 * loop.start();
 * await loop.stop();
 * ```
 */
export class DeliveryLoop {
  readonly #fill: () => void;
  readonly #backoff: DeliveryBackoff;
  /** The sends under way. */
  readonly #sends = new Set<Promise<unknown>>();
  #running = false;

  constructor(options: DeliveryLoopOptions) {
    this.#fill = options.fill;
    this.#backoff = new DeliveryBackoff({ ...options, onRetry: () => this.wake() });
  }

  /** Whether the loop was started and not stopped. */
  get running(): boolean {
    return this.#running;
  }

  /** Whether a failure is being backed off from (nothing starts until the retry). */
  get backingOff(): boolean {
    return this.#backoff.backingOff;
  }

  /** The sends under way. */
  get sending(): number {
    return this.#sends.size;
  }

  /** Starts sending what waits. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.wake();
  }

  /** Says something waits: the forwarder fills now unless stopped or backing off. */
  wake(): void {
    if (!this.#running || this.#backoff.backingOff) return;
    this.#fill();
  }

  /**
   * Tracks a send (for {@linkcode DeliveryLoop.stop}) and wakes the loop when it ends, however it
   * ends. The forwarder handles the send's failures itself; a rejection here is ignored.
   */
  run(send: Promise<unknown>): void {
    this.#sends.add(send);
    const ended = () => {
      this.#sends.delete(send);
      this.wake();
    };
    send.then(ended, ended);
  }

  /** Says the parent answered: ends the failure streak. */
  answered(): void {
    this.#backoff.answered();
  }

  /**
   * Says the parent failed: backs off (once per streak step), unless stopped.
   *
   * @param retryAfterMs The delay the parent asked for (`Retry-After`), or null.
   */
  failed(reason: string, retryAfterMs: number | null = null): void {
    if (this.#running) this.#backoff.failed(reason, retryAfterMs);
  }

  /**
   * Stops: nothing new starts, and this waits for the sends in flight, or for `graceMs` at most.
   * A send still running then is abandoned to the process's end; what it carried stays kept until
   * the parent's answer removes it, so at worst it is sent again on the next start.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#running = false;
    this.#backoff.stop();
    const pending = [...this.#sends];
    if (pending.length === 0) return;
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<void>((resolve) => graceTimer = setTimeout(resolve, graceMs));
    await Promise.race([Promise.allSettled(pending), graceOver]);
    clearTimeout(graceTimer);
  }
}

/**
 * What the relay's three forwarders share: one {@linkcode DeliveryLoop} that calls their
 * {@linkcode LoopedForwarder.fill} and counts what they keep with
 * {@linkcode LoopedForwarder.waiting}, and the members the relay drives them by (start, wake,
 * stop, whether a failure is being backed off from, the sends in flight).
 */
export abstract class LoopedForwarder {
  /** The loop that runs this forwarder's sends. */
  protected readonly loop: DeliveryLoop;

  constructor(options: Omit<DeliveryLoopOptions, "fill" | "waiting">) {
    this.loop = new DeliveryLoop({
      ...options,
      waiting: () => this.waiting(),
      fill: () => this.fill(),
    });
  }

  /** What is kept to send (spooled messages, buffered chunks), for the back-off's log lines. */
  protected abstract waiting(): number;

  /**
   * Starts, through `this.loop.run`, the sends that may start now (as many as the forwarder's own
   * bounds allow; none when nothing waits). Must not throw.
   */
  protected abstract fill(): void;

  /** Starts delivering what is kept. */
  start(): void {
    this.loop.start();
  }

  /** Says something was kept: sends it now unless the parent is being backed off from. */
  wake(): void {
    this.loop.wake();
  }

  /**
   * Stops sending: nothing new starts, and this waits for the sends in flight, or for `graceMs`
   * at most. A send still running then is abandoned to the process's end: what it carries stays
   * kept until the parent's answer removes it, so at worst it is sent again on the next start
   * and the parent answers that it already has it.
   */
  stop(graceMs = 10_000): Promise<void> {
    return this.loop.stop(graceMs);
  }

  /** The sends under way. */
  get inFlight(): number {
    return this.loop.sending;
  }

  /** Whether a failure is being backed off from. */
  get backingOff(): boolean {
    return this.loop.backingOff;
  }
}
