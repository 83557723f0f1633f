/**
 * An expected refusal of an upstream request: an HTTP status, a stable code and a message that
 * tells the sender what to do. Nothing else ever reaches the response.
 *
 * @module
 */

/** A refusal with its HTTP status. */
export class IngestError extends Error {
  readonly status: 400 | 403 | 404 | 409 | 413 | 415 | 503;
  readonly code: string;

  constructor(status: IngestError["status"], code: string, message: string) {
    super(message);
    this.name = "IngestError";
    this.status = status;
    this.code = code;
  }
}
