/**
 * What makes a relay authenticating (`mle-relay run --authenticating`): it admits a registration
 * only with a manual key-exchange proof (`protocol/key_exchange.ts`) of the shared password or of
 * an unused one-time password, from a key it admitted before, or with a key rotation's hand-over
 * (`protocol/handover.ts`) signed by the key of a computer it admitted (so a fleet rotation needs
 * no password typed on each machine; a `--compromised` rotation makes no hand-over the relay
 * trusts and needs the key exchange again, as a thief of the old key must); and it accepts
 * reports (and settings requests) only from admitted, non-revoked computers, checking each report's sender
 * signature against the key the computer registered with. Nothing is decrypted.
 *
 * @module
 */

import { type Logger, silentLogger } from "../cli/log.ts";
import { MleError } from "../envelope/errors.ts";
import type { FlattenedJws } from "../envelope/jws.ts";
import { type ParsedMessage, verifyMessageSignature } from "../envelope/report_message.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import type { ParentAnswer } from "../protocol/bounded_fetch.ts";
import { type ErrorBody, errorBody } from "../protocol/http_error.ts";
import { wireCodeOf, type WireErrorCode } from "../protocol/wire_error_codes.ts";
import { checkHandover, handoverComputerId } from "../protocol/handover.ts";
import { type RegistrationClaims, verifyRegistration } from "../protocol/registration.ts";
import { verifyRelayVoucher } from "../protocol/relay_voucher.ts";
import type { AdmittedBy, AuthorizedClients } from "./authorized_clients.ts";
import { KeyExchangeThrottle } from "./key_exchange_throttle.ts";
import type { Refusal } from "./refusal.ts";
import type { RelayPasswords } from "./relay_passwords.ts";
import { revokedRefusal } from "./revocation_list.ts";

/** An answer that refuses a registration: a refusal, or "wait", with how long. */
export type RegistrationRefusal = Refusal | {
  /** 429: too many failures from this source; 503: the relay is still deriving password keys. */
  status: 429 | 503;
  body: ErrorBody;
  /** Seconds to wait, sent as `Retry-After`. */
  retryAfterSeconds: number;
};

/** What a registration may do at an authenticating relay. */
export type RegistrationAdmission =
  | { refusal: RegistrationRefusal }
  | {
    /**
     * The body to forward to a parent that is not an authenticating relay: the registration
     * without its `keyExchange` (an authenticating parent gets the body as received, to check the
     * proof itself).
     */
    body: string;
    /**
     * Where the client is: the address a trusted relay below vouched for, else the sender's.
     * What this relay's own voucher says to its parent.
     */
    source: string | null;
    /**
     * Called with the parent's answer (null: no answer): records the admitted client on success,
     * gives a one-time password back otherwise; returns a refusal to send instead of the answer.
     */
    settle(answer: ParentAnswer | null): Promise<Refusal | null>;
  };

/** What the authenticator is built from. */
export interface RelayAuthenticatorOptions {
  authorized: AuthorizedClients;
  passwords: RelayPasswords;
  revocations: { isRevoked(computerId: number): boolean };
  /**
   * Slows password guessing (default: 10 failures at once, then one per 10 s, per source, more
   * for a source with admitted clients behind it).
   */
  throttle?: KeyExchangeThrottle;
  /**
   * Public keys (raw Ed25519, base64url) of relays below whose vouchers admit a client
   * (`--trust-relay`): such a relay checked the client's password itself, or (a plain relay)
   * says truthfully which address a registration came from.
   */
  trustedRelayKeys?: Iterable<string>;
  log?: Logger;
}

/** The message every client that must do the key exchange first gets. */
export const KEY_EXCHANGE_REQUIRED_MESSAGE =
  "This relay is authenticating: run mle-client register --password … <relay-url> first";

/**
 * Admits registrations and reports at an authenticating relay.
 *
 * @example
 * ```ts ignore
 * import { RelayAuthenticator } from "./authenticator.ts";
 * const authenticator = new RelayAuthenticator({ authorized, passwords, revocations, log });
 * const refusal = await authenticator.checkReport(readUpstreamMessage(value));
 * if (refusal) return c.json(refusal.body, refusal.status);
 * ```
 */
export class RelayAuthenticator {
  readonly #authorized: AuthorizedClients;
  readonly #passwords: RelayPasswords;
  readonly #revocations: { isRevoked(computerId: number): boolean };
  readonly #throttle: KeyExchangeThrottle;
  readonly #trustedRelays: ReadonlySet<string>;
  readonly #log: Logger;

  constructor(options: RelayAuthenticatorOptions) {
    this.#authorized = options.authorized;
    this.#passwords = options.passwords;
    this.#revocations = options.revocations;
    this.#throttle = options.throttle ?? new KeyExchangeThrottle();
    this.#trustedRelays = new Set(options.trustedRelayKeys ?? []);
    this.#log = options.log ?? silentLogger;
  }

  /** This relay's key-exchange salt, published at `GET /api/v1/key-exchange`. */
  get salt(): string {
    return this.#passwords.salt;
  }

  /**
   * Decides on a registration body: a verified registration with a valid key-exchange proof, or
   * signed by a key admitted before (and not revoked), or vouched for by a trusted relay that
   * admitted it, or carrying a hand-over (not `compromised`) signed by the key of a computer
   * admitted here and not revoked, goes on to the parent. A source that made too many failed key
   * exchanges lately is told to wait (429) before the registration or the proof is checked; the
   * source is the client's address that a trusted relay below vouched for, else the sender's
   * address.
   *
   * @param source the sender's address (IP).
   */
  async admitRegistration(
    bytes: Uint8Array,
    source: string | null = null,
  ): Promise<RegistrationAdmission> {
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(decodeUtf8(bytes));
    } catch {
      return refuse(400, "ERR_ENVELOPE_MALFORMED", "Cannot read registration: not UTF-8 JSON");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return refuse(400, "ERR_ENVELOPE_MALFORMED", "Cannot read registration: not a JSON object");
    }
    const { keyExchange, relayVoucher, ...registration } = value;
    // One signature check, and only for a key this relay trusts: a relay below it vouches.
    const voucher =
      this.#trustedRelays.has((relayVoucher as { publicKey?: unknown })?.publicKey as string)
        ? await verifyRelayVoucher(relayVoucher, value as unknown as FlattenedJws)
        : null;
    const clientSource = voucher?.source ?? source;
    const waitMs = this.#throttle.waitMs(clientSource);
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      return {
        refusal: {
          status: 429,
          body: errorBody(
            "ERR_TOO_MANY_ATTEMPTS",
            `Cannot register now: too many failed key exchanges came from this address; try again ` +
              `in ${seconds} s with the right password (ask the relay's operator for it)`,
          ),
          retryAfterSeconds: seconds,
        },
      };
    }
    let claims: RegistrationClaims;
    try {
      ({ claims } = await verifyRegistration(value));
    } catch (error) {
      if (!(error instanceof MleError)) throw error;
      return refuse(
        error.code === "ERR_SIGNATURE_INVALID" ? 403 : 400,
        wireCodeOf(error.code),
        error.message,
      );
    }
    const publicKey = claims.publicKey;
    const body = JSON.stringify(registration);
    const admit = (by: AdmittedBy, release?: () => Promise<void>): RegistrationAdmission => ({
      body,
      source: clientSource,
      settle: async (answer) => {
        let refusal: Refusal | null;
        try {
          refusal = await this.#settle(answer, publicKey, by, clientSource);
        } catch (error) {
          await release?.();
          throw error;
        }
        if (refusal !== null || !admitted(answer)) await release?.();
        return refusal;
      },
    });

    const known = this.#authorized.byPublicKey(publicKey);
    if (known && this.#revocations.isRevoked(known.computerId)) {
      this.#log.info("registration refused: revoked", { cid: known.computerId });
      return { refusal: revokedRefusal(known.computerId, "a registration") };
    }
    if (known) return admit("known key");

    // A relay below whose key this relay trusts checked the client's password there.
    const vouched = voucher?.admitted === true;
    const byVoucher = (): RegistrationAdmission => {
      this.#log.info("registration vouched for by a trusted relay", { relay: voucher?.publicKey });
      return admit("trusted relay");
    };
    if (
      keyExchange === undefined && !vouched && claims.handover !== undefined && !claims.compromised
    ) {
      const decision = await this.#decideHandover(claims);
      if (decision === "admit") return admit("hand-over");
      if (decision !== null) return { refusal: decision };
    }
    if (keyExchange === undefined) {
      if (vouched) return byVoucher();
      this.#log.info("registration refused: no key exchange");
      return refuse(403, "ERR_KEY_EXCHANGE_REQUIRED", KEY_EXCHANGE_REQUIRED_MESSAGE);
    }
    const match = await this.#passwords.match(value as unknown as FlattenedJws, keyExchange);
    if (!match.ok && vouched) return byVoucher();
    if (!match.ok && match.reason === "preparing") {
      // Not a failure: the proof may name a one-time password whose key is not derived yet.
      const seconds = Math.max(1, Math.ceil((match.total - match.derived) * 0.1));
      return {
        refusal: {
          status: 503,
          body: errorBody(
            "ERR_KEY_EXCHANGE_NOT_READY",
            `Cannot complete the key exchange yet: this relay is still preparing its one-time ` +
              `passwords (${match.derived} of ${match.total}); try again in ${seconds} s`,
          ),
          retryAfterSeconds: seconds,
        },
      };
    }
    if (!match.ok) {
      this.#throttle.failed(clientSource);
      this.#log.warn("key exchange failed", { reason: match.reason, source: clientSource });
      return refuse(
        403,
        "ERR_KEY_EXCHANGE_FAILED",
        match.reason === "used"
          ? "Cannot complete the key exchange: this one-time password was already used; ask " +
            "the relay's operator for a new one"
          : "Cannot complete the key exchange: the password is not one of this relay's; check " +
            "it with the relay's operator",
      );
    }
    return admit(match.kind, match.release);
  }

  /**
   * A rotation's hand-over from a computer admitted here: null when it names none admitted here
   * (the key exchange is then required as for any new key), a refusal when it is not that
   * computer's statement for this key or that computer is revoked, else "admit".
   */
  async #decideHandover(claims: RegistrationClaims): Promise<"admit" | Refusal | null> {
    const oldId = handoverComputerId(claims.handover);
    const oldKey = oldId === null ? null : await this.#authorized.publicKeyOf(oldId);
    if (oldId === null || oldKey === null) return null;
    if (this.#revocations.isRevoked(oldId)) {
      this.#log.info("registration refused: hand-over from a revoked computer", { cid: oldId });
      return revokedRefusal(oldId, "a hand-over");
    }
    const check = await checkHandover(oldKey, claims.handover, {
      oldComputerId: oldId,
      newPublicKey: claims.publicKey,
      now: Date.now(),
    });
    if (!check.ok) {
      this.#log.warn("registration refused: hand-over not valid", { cid: oldId });
      return {
        status: 403,
        body: errorBody(
          "ERR_HANDOVER_INVALID",
          `Cannot accept hand-over: ${check.problem}; run mle-client register --password … ` +
            "<relay-url> to register this key",
        ),
      };
    }
    this.#log.info("registration with a hand-over from an admitted computer", { cid: oldId });
    return "admit";
  }

  async #settle(
    answer: ParentAnswer | null,
    publicKey: string,
    by: AdmittedBy,
    source: string | null,
  ): Promise<Refusal | null> {
    if (!admitted(answer)) return null; // the parent's refusal (or silence) is passed on
    const computerId = (answer.body as { computerId: number }).computerId;
    if (this.#revocations.isRevoked(computerId)) {
      this.#log.info("registration refused: revoked", { cid: computerId });
      return revokedRefusal(computerId, "a registration");
    }
    await this.#authorized.put({
      computerId,
      publicKey,
      authorizedAt: new Date().toISOString(),
      by,
    });
    this.#throttle.noteClient(source, computerId);
    this.#log.info("client admitted", { cid: computerId, by });
    return null;
  }

  /**
   * Decides on a report before it is spooled: refused unless its computer is admitted, not
   * revoked, and signed it with the key it registered.
   *
   * @param source the sender's address: an admitted client reporting from it widens its budget
   * of failed key exchanges.
   */
  async checkReport(parsed: ParsedMessage, source: string | null = null): Promise<Refusal | null> {
    const computerId = parsed.claims.cid;
    const refusal = this.checkComputer(computerId, "report");
    if (refusal) return refusal;
    const key = await this.#authorized.publicKeyOf(computerId);
    try {
      await verifyMessageSignature(key!, parsed);
    } catch (error) {
      if (!(error instanceof MleError)) throw error;
      this.#log.warn("report refused: sender signature not valid", { cid: computerId });
      return {
        status: 403,
        body: errorBody(
          "ERR_SIGNATURE_INVALID",
          `Cannot accept report: it is not signed with the key computer ${computerId} registered ` +
            "at this relay; if the client made a new key, run mle-client register --password … " +
            "<relay-url> again",
        ),
      };
    }
    this.#throttle.noteClient(source, computerId);
    return null;
  }

  /**
   * Decides whether an admitted, non-revoked computer is asking (reports, settings): the refusal
   * to send, or null.
   */
  checkComputer(computerId: number, what = "request"): Refusal | null {
    if (this.#revocations.isRevoked(computerId)) {
      this.#log.info(`${what} refused: revoked`, { cid: computerId });
      return revokedRefusal(computerId, what === "request" ? "a request" : what);
    }
    if (!this.#authorized.get(computerId)) {
      this.#log.info(`${what} refused: no key exchange`, { cid: computerId });
      return {
        status: 403,
        body: errorBody("ERR_KEY_EXCHANGE_REQUIRED", KEY_EXCHANGE_REQUIRED_MESSAGE),
      };
    }
    return null;
  }
}

function refuse(status: 400 | 403, code: WireErrorCode, message: string): { refusal: Refusal } {
  return { refusal: { status, body: errorBody(code, message) } };
}

/** Whether the parent gave the registration a computer id. */
function admitted(answer: ParentAnswer | null): answer is ParentAnswer {
  if (answer === null || (answer.status !== 200 && answer.status !== 201)) return false;
  const computerId = (answer.body as { computerId?: unknown } | null)?.computerId;
  return Number.isSafeInteger(computerId) && (computerId as number) > 0;
}
