/**
 * A spooled message's id: the acceptance time in milliseconds (16 digits), a counter within that
 * millisecond (6 digits) and 8 random hex digits. Ids therefore sort by arrival, so the oldest is
 * delivered first, and two relays' ids never collide. A message stored one file each (a data dir
 * from before segments, and `rejected/`) is `<id>.json`.
 *
 * @module
 */

const ID_PATTERN = /^\d{16}-\d{6}-[0-9a-f]{8}$/;
/** The suffix of a message stored in a file of its own. */
export const MESSAGE_SUFFIX = ".json";

/**
 * Whether `id` is a spool id.
 *
 * @example
 * ```ts
 * import { isSpoolId } from "./spool_id.ts";
 * console.log(isSpoolId("0001733320000000-000000-0a1b2c3d")); // true
 * ```
 */
export function isSpoolId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/**
 * Checks a spool id before it names a file.
 *
 * @throws {RangeError} When `id` is not a spool id.
 */
export function checkSpoolId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new RangeError(`Cannot use spool id "${id}": malformed`);
  return id;
}

/** The id of a message file's name (`<id>.json`), or null when it is not one. */
export function idOfFileName(name: string): string | null {
  if (!name.endsWith(MESSAGE_SUFFIX)) return null;
  const id = name.slice(0, -MESSAGE_SUFFIX.length);
  return ID_PATTERN.test(id) ? id : null;
}

/** When a spooled message arrived, in milliseconds: its id begins with that time. */
export function arrivalOf(id: string): number {
  return Number(id.slice(0, 16));
}

/**
 * Gives out ids, each strictly greater than every earlier one, even if the clock steps back.
 *
 * @example
 * ```ts
 * import { SpoolIds } from "./spool_id.ts";
 * const ids = new SpoolIds();
 * const first = ids.next();
 * console.log(ids.next() > first); // true
 * ```
 */
export class SpoolIds {
  #lastTime = 0;
  #counter = 0;

  /** Goes on after `newest` (the newest id already stored), when there is one. */
  constructor(newest?: string) {
    if (newest !== undefined) {
      this.#lastTime = arrivalOf(newest);
      this.#counter = Number(newest.slice(17, 23));
    }
  }

  /** A new id. */
  next(): string {
    const now = Date.now();
    if (now > this.#lastTime) {
      this.#lastTime = now;
      this.#counter = 0;
    } else {
      this.#counter += 1;
      if (this.#counter > 999_999) {
        this.#lastTime += 1;
        this.#counter = 0;
      }
    }
    const random = crypto.getRandomValues(new Uint8Array(4)).toHex();
    return `${String(this.#lastTime).padStart(16, "0")}-${
      String(this.#counter).padStart(6, "0")
    }-${random}`;
  }
}
