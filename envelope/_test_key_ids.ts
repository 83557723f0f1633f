/**
 * Test support: well-formed key ids (40 lowercase hex digits, the shape `encryptionKeyId` gives)
 * for the tests that name a server key without holding one.
 *
 * @module
 */

/** A key id. */
export const KID_A = "a".repeat(40);

/** Another key id. */
export const KID_B = "b".repeat(40);
