/**
 * A relay's refusal of a request it will not take, answered as it stands: the revocation list
 * (`revocation_list.ts`) and the authenticator (`authenticator.ts`) both produce one.
 *
 * @module
 */

import type { ErrorBody } from "../protocol/http_error.ts";

/** An answer that refuses a request: the status and the `ERR_` body to send. */
export interface Refusal {
  status: 400 | 403;
  body: ErrorBody;
}
