/**
 * Opens a spooled client message for a decrypting relay's bundle, in memory only: an encrypted
 * envelope whose key id this relay holds (and the site did not retire), from a computer its
 * parent knows and lets send, whose outer signature, decryption and inner signed report (its
 * computer id, sequence number and key id) all check, gives the client's own signed report.
 * Anything else is left to go on untouched, for the server to judge.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { decryptJwe } from "../envelope/jwe.ts";
import { fromCompactJws } from "../envelope/jws.ts";
import {
  openSignedReport,
  readUpstreamMessage,
  verifyMessageSignature,
} from "../envelope/report_message.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { type BundleEntry, entryOfJws } from "../protocol/report_bundle.ts";
import type { ClientPublicKeys } from "./client_public_keys.ts";
import type { RelayKeyRing } from "./relay_key_ring.ts";
import type { RevocationList } from "./revocation_list.ts";

/** What a {@linkcode BundleReportOpener} opens with. */
export interface BundleReportOpenerOptions {
  keys: Pick<RelayKeyRing, "has" | "contentKey">;
  /** The keys the site retired: a report encrypted to one goes on untouched. */
  retiredKeys?: Pick<RevocationList, "isKeyRetired">;
  clientKeys: Pick<ClientPublicKeys, "get">;
  log?: Logger;
}

/**
 * Opens spooled client messages for a bundle.
 *
 * @example
 * ```ts ignore
 * const opener = new BundleReportOpener({ keys, clientKeys, log });
 * const entry = await opener.open(await spool.read(id)); // null: forward it untouched
 * ```
 */
export class BundleReportOpener {
  readonly #keys: BundleReportOpenerOptions["keys"];
  readonly #retiredKeys: BundleReportOpenerOptions["retiredKeys"];
  readonly #clientKeys: BundleReportOpenerOptions["clientKeys"];
  readonly #log: Logger;
  /** Retired keys already logged, so that each is logged once. */
  readonly #retiredNoted = new Set<string>();

  constructor(options: BundleReportOpenerOptions) {
    this.#keys = options.keys;
    this.#retiredKeys = options.retiredKeys;
    this.#clientKeys = options.clientKeys;
    this.#log = options.log ?? silentLogger;
  }

  /**
   * Opens one spooled message in memory: the client's signed report when everything checks,
   * null when the message goes untouched.
   *
   * @throws {ParentUnreachableError} When the client's public key cannot be asked for.
   */
  async open(bytes: Uint8Array<ArrayBuffer>): Promise<BundleEntry | null> {
    let parsed;
    try {
      parsed = readUpstreamMessage(JSON.parse(new TextDecoder().decode(bytes)));
    } catch {
      return null;
    }
    if (parsed.kind !== "encrypted" || !this.#keys.has(parsed.header.kid)) return null;
    if (this.#retiredKeys?.isKeyRetired(parsed.header.kid)) {
      this.#noteRetired(parsed.header.kid);
      return null;
    }
    const { claims } = parsed;
    const client = await this.#clientKeys.get(claims.cid);
    if (client === null || !client.maySend) return null;
    try {
      await verifyMessageSignature(client.publicKey, parsed);
      const contentKey = await this.#keys.contentKey(
        claims.cid,
        parsed.header.kid,
        parsed.message.encrypted_key,
      );
      const inner = await decryptJwe(parsed.message, contentKey);
      const jws = fromCompactJws(decodeUtf8(inner));
      inner.fill(0);
      await openSignedReport(client.publicKey, jws, claims);
      return entryOfJws(jws);
    } catch {
      return null;
    }
  }

  /** Logs, once per key, that a retired key's file is still here and is not used. */
  #noteRetired(kid: string): void {
    if (this.#retiredNoted.has(kid)) return;
    this.#retiredNoted.add(kid);
    this.#log.warn("the site retired this key: reports encrypted to it go on untouched", {
      kid,
      hint: `delete "Encryption Keys/${kid}.pvk" from this relay's data dir`,
    });
  }
}
