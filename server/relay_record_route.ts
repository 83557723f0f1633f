/**
 * `POST /api/v1/relays/record/<digest>`: a decrypting relay tells its server which MLE keys it
 * holds (`protocol/relay_record.ts`), and the server keeps that record in the store
 * (`store/relay_records.ts`) for `mle-admin encryption status` and `deploy`.
 *
 * Only a relay the administrator allowed may record itself, proving it as it does to read
 * clients' keys (`server/relay_asker.ts`): its key signs the method and the path, and the path
 * ends with the body's SHA-256, so the body cannot be swapped under a captured signature. The
 * checks go from cheap to dear: the body's size (before reading), its digest against the path,
 * then the header's shape and time, then one lookup and one signature check, and only then the
 * body's content and the one upsert. The time recorded is the server's, never the relay's.
 *
 * @module
 */

import { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import {
  isRelayRecordDigest,
  readRelayRecord,
  RELAY_RECORD_MAX_BYTES,
  RELAY_RECORD_MAX_KIDS,
  relayRecordDigest,
} from "../protocol/relay_record.ts";
import { RELAY_AUTH_HEADER } from "../protocol/relay_request.ts";
import type { Store } from "../store/store.ts";
import type { ComputerDirectory } from "./computer_directory.ts";
import { IngestError, readBodyWithin } from "./ingest_error.ts";
import { authenticateRelayAsker } from "./relay_asker.ts";

/** What the route needs. */
export interface RelayRecordRouteOptions {
  store: Pick<Store, "isBundleSender" | "recordDecryptingRelay">;
  computers: ComputerDirectory;
  now: () => number;
  log: Logger;
}

/**
 * The route, mounted at `API.relayRecord`: 200 `{status: "recorded", computerId}`; 413
 * `ERR_TOO_LARGE`; 400 `ERR_RELAY_RECORD_DIGEST` or `ERR_RELAY_RECORD_INVALID`; 403 as
 * {@linkcode authenticateRelayAsker}.
 *
 * @example
 * ```ts ignore
 * app.route(API.relayRecord, createRelayRecordApp({ store, computers, now: Date.now, log }));
 * ```
 */
export function createRelayRecordApp(options: RelayRecordRouteOptions): Hono {
  const app = new Hono();
  app.post(
    "/:digest",
    async (c) => {
      const digest = c.req.param("digest");
      const body = await readBodyWithin(
        c.req.raw,
        RELAY_RECORD_MAX_BYTES,
        "relay record",
        `name at most ${RELAY_RECORD_MAX_KIDS} keys`,
      );
      if (!isRelayRecordDigest(digest) || (await relayRecordDigest(body)) !== digest) {
        throw new IngestError(
          400,
          "ERR_RELAY_RECORD_DIGEST",
          "Cannot record the relay: the path does not end with the base64url SHA-256 of the " +
            "body; sign the path that names the body's digest",
        );
      }
      const computerId = await authenticateRelayAsker(
        c.req.header(RELAY_AUTH_HEADER),
        "POST",
        c.req.path,
        options,
      );
      const claim = readRelayRecord(body);
      if (claim === null) {
        throw new IngestError(
          400,
          "ERR_RELAY_RECORD_INVALID",
          "Cannot record the relay: expected JSON {name, url, kids} with a name of 1 to 200 " +
            `printable characters, an http(s) URL and at most ${RELAY_RECORD_MAX_KIDS} distinct ` +
            "key ids (40 lowercase hex digits)",
        );
      }
      await options.store.recordDecryptingRelay({
        computerId,
        ...claim,
        lastSeenAt: options.now(),
      });
      options.log.debug("decrypting relay recorded", { computerId, kids: claim.kids.length });
      return c.json({ status: "recorded", computerId });
    },
  );
  return app;
}
