/**
 * The relay's registration and key exchange, a sub-app of `createRelayApp` (`relay/app.ts`).
 *
 * - `POST /api/v1/register` goes to the parent at once (the client needs its computer id now);
 *   the parent's answer, and its `Retry-After`, come back. This is the one place a relay posts a
 *   registration upstream.
 * - Authenticating (`authenticator` given): a registration needs the manual key exchange (or a
 *   hand-over), and the client is admitted once the parent gives its id
 *   (`relay/authenticator.ts`). To an authenticating parent, this relay adds its voucher.
 * - `GET /api/v1/key-exchange`: the salts of the authenticating relays on the way.
 *
 * @module
 */

import { Hono } from "hono";
import type { FlattenedJws } from "../envelope/jws.ts";
import { decodeUtf8 } from "../envelope/utf8.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { errorBody, errorCodeOf } from "../protocol/http_error.ts";
import { MAX_DOCUMENT_BYTES, MAX_REGISTRATION_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import type { VoucherStatement } from "../protocol/relay_voucher.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { JSON_HEADERS, passedRetryAfter, readBody } from "./_request_body.ts";
import { type RelayAppContext, remoteAddress } from "./relay_app_context.ts";
import { Upstream } from "./upstream.ts";

/**
 * Creates the relay's registration and key-exchange routes (full paths: mount at `/`).
 *
 * @throws {RangeError} When the parent URL is unusable.
 *
 * @example
 * ```ts ignore
 * app.route("/", createRelayRegistrationApp(context));
 * ```
 */
export function createRelayRegistrationApp(context: RelayAppContext): Hono {
  const { authenticator, refusals, parentCapabilities, log } = context;
  const upstream = Upstream.of(context.parentUrl);
  const registrationTimeoutMs = context.registrationTimeoutMs ?? 15_000;

  const app = new Hono();
  app.get(API.keyExchange, async (c) => {
    const parameters = await context.keyExchangeSalts?.parameters();
    if (!parameters) {
      return c.json(
        errorBody(
          "ERR_NOT_FOUND",
          "No relay on the way to the server authenticates: register without a password",
        ),
        404,
      );
    }
    return c.json(parameters, 200, { "cache-control": "no-store" });
  });

  app.post(API.register, async (c) => {
    const received = await readBody(c, MAX_REGISTRATION_BYTES, "registration");
    const source = remoteAddress(c);
    const admission = authenticator
      ? await authenticator.admitRegistration(received, source)
      : null;
    if (admission && "refusal" in admission) {
      const refusal = admission.refusal;
      const headers: Record<string, string> = "retryAfterSeconds" in refusal
        ? { "retry-after": String(refusal.retryAfterSeconds) }
        : {};
      return c.json(refusal.body, refusal.status, headers);
    }
    // The proof, and this relay's voucher, go on only to an authenticating parent: it checks the
    // proof against its own passwords, or trusts the voucher's key (for the client's address,
    // and, from an authenticating relay, for the admission).
    let body: string | Uint8Array<ArrayBuffer> = received;
    const parentAuthenticates = await parentCapabilities.authenticating();
    if (admission && !parentAuthenticates) {
      body = admission.body;
    } else if (parentAuthenticates && context.vouch) {
      try {
        body = await vouchedBody(received, context.vouch, {
          admitted: admission !== null,
          source: admission ? admission.source : source,
        });
      } catch (error) {
        await admission?.settle(null); // a one-time password is given back
        throw error;
      }
    }
    let answer;
    try {
      answer = await upstream.fetchJson(API.register, {
        method: "POST",
        body,
        headers: JSON_HEADERS,
        redirect: "manual",
        timeoutMs: registrationTimeoutMs,
        maxBytes: MAX_DOCUMENT_BYTES,
      });
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) throw error;
      await admission?.settle(null);
      log.warn("cannot forward registration", { reason: describeUnreachable(error) });
      return c.json(
        errorBody(
          "ERR_PARENT_UNREACHABLE",
          "Cannot register: the relay's parent does not answer; try again later",
        ),
        503,
      );
    }
    // An authenticating relay admits the client now (or gives a one-time password back).
    const refusal = await admission?.settle(answer);
    if (refusal) return c.json(refusal.body, refusal.status);
    // Only answers a client acts on pass: a success with a body, or an error it can show.
    const passes = answer.status === 200 || answer.status === 201 ||
      (answer.status >= 400 && answer.status < 600);
    if (answer.body === null || !passes) {
      log.warn("parent answered a registration unusably", {
        status: answer.status,
      });
      return c.json(
        errorBody(
          "ERR_PARENT_BAD_ANSWER",
          "Cannot register: the relay's parent gave an unusable answer; try again later",
        ),
        502,
      );
    }
    // This relay took the proof, a relay above did not: say where the chain broke.
    const parentCode = errorCodeOf(answer.body);
    if (
      admission && answer.status === 403 &&
      (parentCode === "ERR_KEY_EXCHANGE_FAILED" || parentCode === "ERR_KEY_EXCHANGE_REQUIRED")
    ) {
      const said = (answer.body as { error?: { message?: unknown } }).error?.message;
      return c.json(
        errorBody(
          "ERR_KEY_EXCHANGE_FAILED",
          "Cannot complete the key exchange: this relay took the password, but the " +
            `authenticating relay above it refused it (${
              typeof said === "string" ? said.slice(0, 300) : parentCode
            }); relays in a chain admit a client only with a password each of them knows, so ` +
            "ask their operators to give them the same one",
        ),
        403,
      );
    }
    // Registered (again) through here: whatever the parent refused this computer before is past.
    const registered = (answer.body as { computerId?: unknown }).computerId;
    if ((answer.status === 200 || answer.status === 201) && Number.isSafeInteger(registered)) {
      refusals?.forget(registered as number);
    }
    // A busy parent's "come back later" reaches the client: it waits as long as asked.
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { ...JSON_HEADERS, ...passedRetryAfter(answer) },
    });
  });
  return app;
}

/**
 * The registration with this relay's voucher in place of any it came with; unchanged when it is
 * not a JSON object with the JWS members (the parent refuses it then).
 */
async function vouchedBody(
  received: Uint8Array<ArrayBuffer>,
  vouch: NonNullable<RelayAppContext["vouch"]>,
  statement: VoucherStatement,
): Promise<string | Uint8Array<ArrayBuffer>> {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(decodeUtf8(received));
  } catch {
    return received;
  }
  if (
    typeof value !== "object" || value === null || typeof value.protected !== "string" ||
    typeof value.payload !== "string"
  ) {
    return received;
  }
  value.relayVoucher = await vouch(value as unknown as FlattenedJws, statement);
  return JSON.stringify(value);
}
