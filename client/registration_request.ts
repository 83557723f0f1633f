/**
 * A client's registration with its parent: the signed registration (with the hand-over or the
 * compromised claim of a key rotation in progress, and the manual key exchange's proof when a
 * password is given), the request, and the one reading of the answer.
 *
 * @module
 */

import { decodeBase64Url } from "../envelope/base64url.ts";
import { MleError } from "../envelope/errors.ts";
import type { ClientKey } from "../keystore/key_storage.ts";
import { ParentUnreachableError, postJson } from "../protocol/bounded_fetch.ts";
import { readErrorAnswer } from "../protocol/http_error.ts";
import { type PasswordKey, proveKeyExchange } from "../protocol/key_exchange.ts";
import { API } from "../protocol/paths.ts";
import { parseRetryAfter } from "../protocol/upload_fetch.ts";
import { signRegistration } from "../protocol/registration.ts";
import { type HostIdentifierKind, hostIdentity } from "./host_identity.ts";
import {
  type ClientLocation,
  type KeyExchangeCode,
  KeyExchangeError,
} from "./key_exchange_hint.ts";
import { readRotationRecord, type RotationRecord } from "./rotation_record.ts";

/** A parent's answer to a registration, read. */
export type RegistrationAnswer =
  /** Registered: the computer id to use from now on. */
  | { kind: "registered"; computerId: number }
  /**
   * Busy, or too many failed key exchanges from this address lately: later, not never (no
   * earlier than its `Retry-After`, capped, when it sent one).
   */
  | { kind: "busy"; said: string; retryAfterMs: number | null }
  /** An authenticating relay wants the manual key exchange (or refused its proof). */
  | { kind: "key-exchange"; code: KeyExchangeCode; said: string }
  /** Refused: the registration itself is not acceptable. */
  | { kind: "refused"; said: string };

/**
 * Reads a parent's answer to a registration.
 *
 * @example
 * ```ts
 * import { readRegistrationAnswer } from "./registration_request.ts";
 * readRegistrationAnswer({ status: 200, body: { computerId: 7 } });
 * // { kind: "registered", computerId: 7 }
 * ```
 */
export function readRegistrationAnswer(
  answer: { status: number; body: unknown; retryAfter?: string },
): RegistrationAnswer {
  const computerId = (answer.body as { computerId?: unknown } | null)?.computerId;
  if (answer.status === 200 && Number.isSafeInteger(computerId) && (computerId as number) > 0) {
    return { kind: "registered", computerId: computerId as number };
  }
  const error = readErrorAnswer(answer.body);
  const said = error.message === "" ? `HTTP ${answer.status}` : error.message;
  if (answer.status >= 500 || answer.status === 429) {
    return { kind: "busy", said, retryAfterMs: parseRetryAfter(answer.retryAfter ?? null) };
  }
  if (
    error.kind === "known" &&
    (error.code === "ERR_KEY_EXCHANGE_REQUIRED" || error.code === "ERR_KEY_EXCHANGE_FAILED")
  ) {
    return { kind: "key-exchange", code: error.code, said };
  }
  return { kind: "refused", said };
}

/** Who registers, and how. */
export interface RegistrationRequest extends ClientLocation {
  key: ClientKey;
  hostIdentifier: HostIdentifierKind;
  /** The manual key exchange's password keys (`mle-client register`), one per relay's salt. */
  passwordKeys?: PasswordKey[];
}

/**
 * Registers the client key through `parent`: returns the computer id, and the key rotation this
 * registration completes (its record, to be cleared once the id is saved), or null.
 *
 * @throws {ParentUnreachableError} When the parent does not answer or is busy.
 * @throws {KeyExchangeError} When an authenticating relay wants the key exchange.
 * @throws {MleError} When the registration is refused.
 */
export async function registerThrough(
  parent: string,
  request: RegistrationRequest,
): Promise<{ computerId: number; rotation: RotationRecord | null }> {
  const { key } = request;
  const rotation = await readRotationRecord(request.dataDir);
  const handoverFor = rotation?.handover
    ? JSON.parse(new TextDecoder().decode(decodeBase64Url(rotation.handover.payload)))
      .newPublicKey
    : null;
  const registration = await signRegistration(key.privateKey, {
    publicKey: key.publicKeyText,
    hostIdentity: await hostIdentity(request.hostIdentifier, request.dataDir),
    hostname: Deno.hostname(),
    issuedAt: Date.now(),
    // A hand-over counts only for the key it vouched for.
    ...(rotation?.handover && handoverFor === key.publicKeyText
      ? { handover: rotation.handover }
      : {}),
    ...(rotation?.compromised && rotation.previousComputerId !== null
      ? { compromised: true, previousComputerId: rotation.previousComputerId }
      : {}),
  });
  // The manual key exchange: an HMAC over this very registration with the password's key for
  // each authenticating relay's salt.
  const body = request.passwordKeys === undefined ? registration : {
    ...registration,
    keyExchange: await proveKeyExchange(registration, request.passwordKeys),
  };
  const answer = readRegistrationAnswer(
    await postJson(`${parent}${API.register}`, body, 64 * 1024),
  );
  switch (answer.kind) {
    case "registered":
      return { computerId: answer.computerId, rotation };
    case "busy":
      throw new ParentUnreachableError(`${parent} (${answer.said})`, {
        retryAfterMs: answer.retryAfterMs,
      });
    case "key-exchange":
      throw new KeyExchangeError(answer.code, parent, answer.said, request);
    case "refused":
      throw new MleError("ERR_SIGNATURE_INVALID", `Cannot register: ${answer.said}`);
  }
}
