/**
 * Test support: the shapes of the envelope's typed errors, for `assert.throws` and
 * `assert.rejects` (spread one and add the `message` where the words matter).
 *
 * @module
 */

/** An {@linkcode MleError} with code `ERR_ENVELOPE_MALFORMED`. */
export const MALFORMED = { name: "MleError", code: "ERR_ENVELOPE_MALFORMED" } as const;

/** An {@linkcode MleError} with code `ERR_SIGNATURE_INVALID`. */
export const SIGNATURE_INVALID = { name: "MleError", code: "ERR_SIGNATURE_INVALID" } as const;

/** An {@linkcode MleError} with code `ERR_KEY_INVALID`. */
export const KEY_INVALID = { name: "MleError", code: "ERR_KEY_INVALID" } as const;
