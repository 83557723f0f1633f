/**
 * What the relay's HTTP sub-apps are built from: one context, resolved once by
 * `createRelayApp` (`relay/app.ts`) and shared by the reports, registration and documents
 * sub-apps, and the sender's address as each of them reads it.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import type { Registry } from "../ops/metrics.ts";
import type { RelayVoucher, VoucherStatement } from "../protocol/relay_voucher.ts";
import type { RelayAuthenticator } from "./authenticator.ts";
import type { DocumentCache } from "./document_cache.ts";
import type { Forwarder } from "./forwarder.ts";
import type { KeyExchangeSalts } from "./key_exchange_salts.ts";
import type { ParentCapabilities } from "./parent_capabilities.ts";
import type { ParentSource } from "./upstream.ts";
import type { RevocationList } from "./revocation_list.ts";
import type { KnownSenderKeys } from "./sender_keys.ts";
import type { Spool } from "./spool.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";

/** What the relay app is built from. */
export interface RelayAppOptions {
  /** Where accepted reports are stored before the acknowledgement. */
  spool: Pick<Spool, "put" | "isFull">;
  /**
   * The senders' public keys this relay already knows (a decrypting relay's cache of its
   * parent's answers): a report whose signature does not verify with its sender's key is refused
   * before it is spooled. Never asks the parent, so a report costs no request upstream.
   */
  senderKeys?: KnownSenderKeys;
  /** Told about every newly spooled report. */
  forwarder: Pick<Forwarder, "wake">;
  /** The signed documents passed down. */
  documents: Pick<DocumentCache, "get">;
  /** The relay's parents (or one parent's base URL), for registrations. */
  parentUrl: ParentSource;
  /** Whether encrypted reports are accepted (stored as ciphertext and forwarded). */
  acceptsEncryptedReports: boolean;
  /** Whether this relay decrypts and bundles (`--decrypt`): said in its capabilities. */
  decrypting?: boolean;
  log?: Logger;
  /** Timeout of a registration forwarded to the parent (default 15 s). */
  registrationTimeoutMs?: number;
  /** Makes the relay authenticating: key exchange for registrations, checked senders. */
  authenticator?: Pick<RelayAuthenticator, "admitRegistration" | "checkReport" | "checkComputer">;
  /** The verified revocation list: revoked senders are refused, children get the newest list. */
  revocations?: Pick<RevocationList, "refusalFor" | "answerFor">;
  /** The upload routes (`relay/upload_app.ts`), mounted at `/api/v1/uploads` when given. */
  uploads?: Hono;
  /**
   * Signs this relay's voucher for a registration (the client's address; whether this relay
   * admitted it), added when the registration goes on to an authenticating parent.
   */
  vouch?: (registration: FlattenedJws, statement: VoucherStatement) => Promise<RelayVoucher>;
  /** The key-exchange salts served at `GET /api/v1/key-exchange` (this relay's and above). */
  keyExchangeSalts?: Pick<KeyExchangeSalts, "parameters">;
  /** The parent's refusals of senders, given to their next reports at once. */
  refusals?: Pick<UpstreamRefusals, "refusalFor" | "forget">;
  /** Where the answers are counted and timed (`ops/metrics.ts`), when given. */
  registry?: Registry;
}

/**
 * The dependencies every relay sub-app shares: the options, with the logger and the parent's
 * capabilities (asked at most once a minute, for all of them) resolved.
 */
export interface RelayAppContext extends Omit<RelayAppOptions, "log"> {
  log: Logger;
  /** What the parent takes (whether it authenticates, for registrations). */
  parentCapabilities: Pick<ParentCapabilities, "authenticating">;
}

/**
 * The sender's IP address, when served by `Deno.serve` (null in `app.request()` tests).
 *
 * @example
 * ```ts ignore
 * app.post(API.reports, (c) => accept(bytes, remoteAddress(c)));
 * ```
 */
export function remoteAddress(c: Context): string | null {
  return (c.env as Deno.ServeHandlerInfo<Deno.NetAddr> | undefined)?.remoteAddr?.hostname ?? null;
}
