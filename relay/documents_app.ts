/**
 * The relay's documents, a sub-app of `createRelayApp` (`relay/app.ts`): its capabilities, and
 * the signed documents passed down from the parent (masthead, encryption certificate, revocation
 * list, each computer's settings and rotation directive), or from the cache while the parent is
 * away (`relay/document_cache.ts`, a stale answer marked `x-mle-relay-cache: stale`). The
 * revocation list served is the newest verified one (`relay/revocation_list.ts`); an
 * authenticating relay serves a computer's documents only to admitted computers.
 *
 * @module
 */

import { Hono } from "hono";
import type { Capabilities } from "../protocol/capabilities.ts";
import { errorBody } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { VERSION } from "../protocol/version.ts";
import type { DocumentName } from "./document_cache.ts";
import { JSON_HEADERS, passedRetryAfter } from "./_request_body.ts";
import type { RelayAppContext } from "./relay_app_context.ts";

const COMPUTER_ID_PATTERN = /^[1-9][0-9]{0,15}$/;

/**
 * Creates the relay's capabilities and document routes (full paths: mount at `/`).
 *
 * @example
 * ```ts ignore
 * app.route("/", createRelayDocumentsApp(context));
 * ```
 */
export function createRelayDocumentsApp(context: RelayAppContext): Hono {
  const { documents, revocations, authenticator } = context;
  const capabilities: Capabilities = {
    role: "relay",
    acceptsEncryptedReports: context.acceptsEncryptedReports,
    authenticating: authenticator !== undefined,
    decrypting: context.decrypting === true,
    acceptsReportBatches: true,
    version: VERSION,
  };

  const app = new Hono();
  app.get(API.capabilities, (c) => c.json(capabilities));

  const serveDocument = async (name: DocumentName, computerId?: number) => {
    let answer = await documents.get(name, computerId);
    if (name === "revocations" && revocations) answer = await revocations.answerFor(answer);
    const headers: Record<string, string> = { ...JSON_HEADERS, "cache-control": "no-store" };
    if (answer.stale) headers["x-mle-relay-cache"] = "stale";
    Object.assign(headers, passedRetryAfter(answer));
    return new Response(answer.body, { status: answer.status, headers });
  };
  app.get(API.masthead, () => serveDocument("masthead"));
  app.get(API.encryptionCertificate, () => serveDocument("encryption-certificate"));
  app.get(API.revocations, () => serveDocument("revocations"));
  // The documents asked per computer: settings and the rotation directive.
  for (
    const [path, name] of [[API.settings, "settings"], [
      API.rotationDirective,
      "rotation-directive",
    ]] as const
  ) {
    app.get(path, (c) => {
      const computer = c.req.query("computer") ?? "";
      if (!COMPUTER_ID_PATTERN.test(computer) || !Number.isSafeInteger(Number(computer))) {
        return c.json(
          errorBody(
            "ERR_BAD_REQUEST",
            `Cannot read ${name}: query "computer" must be a positive integer computer id`,
          ),
          400,
        );
      }
      const refusal = authenticator?.checkComputer(Number(computer), `${name} request`);
      if (refusal) return c.json(refusal.body, refusal.status);
      return serveDocument(name, Number(computer));
    });
  }
  return app;
}
