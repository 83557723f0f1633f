/**
 * Who may read `GET /api/v1/computers/ID`: only a relay the administrator allowed
 * (`mle-admin relays allow ID`), proving it with a request signed by its own key
 * (`protocol/relay_request.ts`). Registration is open to any client, so being a registered
 * computer proves nothing about being a relay; the administrator's allowance does.
 *
 * The checks go from cheap to dear: the header's shape and time (no lookup), then the asker's
 * record (memory, else one indexed read), its signature, and the allowance.
 *
 * @module
 */

import {
  isRelayRequestFresh,
  readRelayRequestAuth,
  verifyRelayRequest,
} from "../protocol/relay_request.ts";
import type { Store } from "../store/store.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import { inactiveReason, IngestError } from "./ingest_error.ts";

/**
 * Checks that a request comes from an allowed relay; returns its computer id.
 *
 * @throws {IngestError} 403 with `ERR_RELAY_AUTH_REQUIRED`, `ERR_RELAY_AUTH_EXPIRED`,
 * `ERR_RELAY_AUTH_INVALID` or `ERR_RELAY_NOT_ALLOWED`.
 */
export async function authenticateRelayAsker(
  header: string | undefined,
  method: string,
  path: string,
  context: {
    store: Pick<Store, "isBundleSender">;
    computers: ComputerDirectory;
    now: () => number;
  },
): Promise<number> {
  const auth = readRelayRequestAuth(header);
  if (auth === null) {
    throw new IngestError(
      403,
      "ERR_RELAY_AUTH_REQUIRED",
      "Cannot answer: only relays the administrator allowed may read computers; sign the " +
        "request with the relay's key (header X-MLE-Relay-Auth)",
    );
  }
  if (!isRelayRequestFresh(auth, context.now())) {
    throw new IngestError(
      403,
      "ERR_RELAY_AUTH_EXPIRED",
      "Cannot answer: the signed request's time is more than 5 minutes from the server's; " +
        "check the relay's clock",
    );
  }
  const relay = await context.computers.get(auth.computerId);
  if (
    relay === null || inactiveReason(relay.record) !== null ||
    !(await verifyRelayRequest(relay.publicKey, auth, method, path))
  ) {
    throw new IngestError(
      403,
      "ERR_RELAY_AUTH_INVALID",
      `Cannot answer: the request is not signed by the key of an active computer ` +
        `${auth.computerId}; a relay signs with the key it registered`,
    );
  }
  if (!(await context.store.isBundleSender(auth.computerId))) {
    throw new IngestError(
      403,
      "ERR_RELAY_NOT_ALLOWED",
      `Cannot answer: computer ${auth.computerId} is not an allowed relay; allow it with: ` +
        `mle-admin relays allow ${auth.computerId} --site-key FILE`,
    );
  }
  return auth.computerId;
}
