/**
 * The JSON error body every role answers with: a stable code and a message that says what to do.
 * Internal causes go to the log, never into the response.
 *
 * @module
 */

/** Body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

/** Builds an error body. */
export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Reads the code of an error body, or null when the value is not one. */
export function errorCodeOf(value: unknown): string | null {
  const code = (value as ErrorBody | null)?.error?.code;
  return typeof code === "string" ? code : null;
}
