/**
 * The client's side of a rotation directive (`protocol/rotation_directive.ts`): at each cycle it
 * asks its parent for the directive naming its computer id, verifies it against the site key of
 * its masthead, and notes a rotation due when the directive asks one it has not started. The
 * rotation itself runs after the cycle (`client/directed_rotation.ts`).
 *
 * @module
 */

import { compareDocumentVersions } from "../protocol/document_version.ts";
import { API } from "../protocol/paths.ts";
import {
  requestFor,
  type RotationDirective,
  verifyRotationDirective,
} from "../protocol/rotation_directive.ts";
import type { ClientState, DirectedRotation } from "./client_state.ts";
import { type ComputerDocumentCheck, fetchComputerDocument } from "./site_documents.ts";

/**
 * What a verified directive asks of this computer, given what it has seen and started: the
 * rotation due, or null when the directive is older than one seen (a replay), does not name
 * `computerId`, or asks what was started already. Pure.
 *
 * @example
 * ```ts
 * import { rotationDueFrom } from "./rotation_directive_check.ts";
 * const directive = {
 *   serial: 3,
 *   issuedAt: 0,
 *   requests: [{ computerId: 7, requestedIn: 3, requestedAt: 0, compromised: false }],
 * };
 * const held = { rotationDirectiveVersion: null, rotationStarted: null };
 * console.log(rotationDueFrom(directive, 7, held)); // { computerId: 7, requestedIn: 3, compromised: false }
 * console.log(rotationDueFrom(directive, 8, held)); // null
 * ```
 */
export function rotationDueFrom(
  directive: RotationDirective,
  computerId: number,
  held: Pick<ClientState, "rotationDirectiveVersion" | "rotationStarted">,
): DirectedRotation | null {
  if (
    held.rotationDirectiveVersion !== null &&
    compareDocumentVersions(directive, held.rotationDirectiveVersion) < 0
  ) {
    return null;
  }
  const request = requestFor(directive, computerId);
  if (request === null) return null;
  const started = held.rotationStarted;
  if (
    started !== null && started.computerId === computerId &&
    started.requestedIn >= request.requestedIn
  ) {
    return null;
  }
  return { computerId, requestedIn: request.requestedIn, compromised: request.compromised };
}

/**
 * Asks `parent` for the directive naming the state's computer and records in `state` the newest
 * version seen and the rotation due (or none). Keeps what it had when the parent has none to give
 * or gives something unverifiable (said through `say`).
 */
export async function checkRotationDirective(
  { parent, siteKey, state, say }: ComputerDocumentCheck,
): Promise<void> {
  const fetched = await fetchComputerDocument(parent, API.rotationDirective, state);
  if (fetched === null) return;
  let directive: RotationDirective;
  try {
    directive = await verifyRotationDirective(siteKey, fetched.body);
  } catch (error) {
    say(`ignored a rotation directive: ${(error as Error).message}`);
    return;
  }
  const due = rotationDueFrom(directive, fetched.cid, state);
  if (
    state.rotationDirectiveVersion === null ||
    compareDocumentVersions(directive, state.rotationDirectiveVersion) > 0
  ) {
    state.rotationDirectiveVersion = { serial: directive.serial, issuedAt: directive.issuedAt };
  }
  if (due !== null) state.rotationDue = due;
}
