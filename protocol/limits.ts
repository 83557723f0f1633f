/**
 * Bounds on everything that arrives from the network, checked before a body is buffered.
 *
 * @module
 */

/** Largest upstream report message accepted, in bytes (the envelope, base64url included). */
export const MAX_REPORT_MESSAGE_BYTES = 1024 * 1024;
/** Largest registration request accepted, in bytes. */
export const MAX_REGISTRATION_BYTES = 16 * 1024;
/** Largest signed document a client or relay accepts from its parent, in bytes. */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;
/** Most custom properties one report may carry. */
export const MAX_CUSTOM_PROPERTIES = 256;
/** Most client envelopes in one report batch (`POST /api/v1/reports/batch`). */
export const MAX_REPORT_BATCH_COUNT = 512;
/** Largest report batch accepted, in bytes (its framing included). */
export const MAX_REPORT_BATCH_BYTES = 8 * 1024 * 1024;
/** Largest answer to a report batch read by a relay, in bytes (one short outcome per envelope). */
export const MAX_REPORT_BATCH_ANSWER_BYTES = 1024 * 1024;
