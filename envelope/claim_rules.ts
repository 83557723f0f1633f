/**
 * How the claims in a sealed or signed message's headers are checked: a kind declares its claims
 * as one table of rules, in wire order, and {@linkcode checkClaims} reads them from a header with
 * the refusal every malformed envelope gets. The rules a sender's claims share (a computer id, a
 * sequence, a key id) are declared once here for reports, upload manifests and bundles. Pure.
 *
 * @module
 */

import { MleError } from "./errors.ts";

/** How one claim is checked: a test, and what the refusal says the claim must be. */
export interface ClaimRule {
  /** True when the claim's value is acceptable. */
  readonly holds: (value: unknown) => boolean;
  /** The refusal's words: `<claim> must be <mustBe>`. */
  readonly mustBe: string;
}

/** A kind's claims, each with its rule, in wire order. */
export type ClaimRules<Claims> = { readonly [Name in keyof Claims]-?: ClaimRule };

/** True for a whole number from `min` up to the largest safe integer. */
function isWholeNumber(value: unknown, min: number): boolean {
  return Number.isSafeInteger(value) && (value as number) >= min;
}

/** A whole number from 1: a computer id, a chunk size, a count. */
export const POSITIVE_INTEGER: ClaimRule = {
  holds: (value) => isWholeNumber(value, 1),
  mustBe: "a positive integer",
};

/** A whole number from 0: a report's sequence number. */
export const NON_NEGATIVE_INTEGER: ClaimRule = {
  holds: (value) => isWholeNumber(value, 0),
  mustBe: "a non-negative integer",
};

/** The `kid` claim: the id of the server key the message is sealed to, or null in clear. */
export const KEY_ID_OR_NULL: ClaimRule = {
  holds: (value) => value === null || typeof value === "string",
  mustBe: "a key id or null",
};

/** A whole number from 1 to `max`. */
export function integerUpTo(max: number): ClaimRule {
  return {
    holds: (value) => isWholeNumber(value, 1) && (value as number) <= max,
    mustBe: `an integer from 1 to ${max}`,
  };
}

/** A string that matches `pattern` whole. */
export function textMatching(pattern: RegExp, mustBe: string): ClaimRule {
  return { holds: (value) => typeof value === "string" && pattern.test(value), mustBe };
}

/**
 * Reads the claims `rules` name from a protected header, in the rules' order, checking each; a
 * missing `kid` reads as null (a clear message's JWS may leave it out).
 *
 * @throws {MleError} `ERR_ENVELOPE_MALFORMED`: `Cannot read <what>: <claim> must be <mustBe>`.
 *
 * @example
 * ```ts
 * import { checkClaims, KEY_ID_OR_NULL, POSITIVE_INTEGER } from "./claim_rules.ts";
 * const rules = { cid: POSITIVE_INTEGER, kid: KEY_ID_OR_NULL };
 * console.log(checkClaims(rules, { cid: 7 }, "envelope")); // { cid: 7, kid: null }
 * ```
 */
export function checkClaims<Claims>(
  rules: ClaimRules<Claims>,
  header: Record<string, unknown>,
  what: string,
): Claims {
  const claims: Record<string, unknown> = {};
  for (const name in rules) {
    const value = name === "kid" ? header.kid ?? null : header[name];
    const rule: ClaimRule = rules[name];
    if (!rule.holds(value)) {
      throw new MleError(
        "ERR_ENVELOPE_MALFORMED",
        `Cannot read ${what}: ${name} must be ${rule.mustBe}`,
      );
    }
    claims[name] = value;
  }
  return claims as Claims;
}

/** The claims `rules` name, in the rules' order, without `kid` when `withKid` is false. */
export function claimsInOrder<Claims>(
  rules: ClaimRules<Claims>,
  claims: Claims,
  withKid: boolean,
): Record<string, unknown> {
  const members: Record<string, unknown> = {};
  for (const name in rules) {
    if (withKid || name !== "kid") members[name] = claims[name];
  }
  return members;
}
