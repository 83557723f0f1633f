/**
 * The web console, served on its own listener (`mle-server run --console-listen`, 127.0.0.1 by
 * default) and never on the port clients reach. Operators sign in with a name and password
 * (`mle-admin operators`); every page needs a session, every state-changing request its CSRF
 * token, every decision the admin role and the site key's signature made in the browser
 * (`console_decisions.ts`). Sign-in failures are throttled per name and source before any hash
 * is computed, and at most a few hashes run at once, so a stranger's request costs little.
 * Every operator action goes to the audit log.
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Logger } from "../../cli/log.ts";
import { UNKNOWN_OPERATOR_HASH, verifyOperatorPassword } from "../../keystore/operator_password.ts";
import { errorBody } from "../../protocol/http_error.ts";
import { internalErrorAnswer } from "../../ops/internal_error_answer.ts";
import { CONSOLE_SCRIPT } from "./assets/console_script.ts";
import { CONSOLE_STYLE } from "./assets/console_style.ts";
import { computerPages } from "./computer_pages.tsx";
import {
  DecisionError,
  recordSignedRevocations,
  recordSignedSettings,
  revocationDraft,
} from "./console_decisions.ts";
import type { ConsoleDeps, ConsoleEnv } from "./console_env.ts";
import { uploadDownloads } from "./upload_downloads.ts";
import { isComputerDecisionAction } from "../../protocol/computer_decision.ts";
import { computerDecisionDraft, recordComputerDecision } from "../../store/computer_decisions.ts";
import { ConsoleSessions, randomToken, sameToken, type SessionLimits } from "./console_sessions.ts";
import { SignInPage } from "./layout.tsx";
import { SignInThrottle } from "./sign_in_throttle.ts";
import { sitePages } from "./site_pages.tsx";

/** What the console needs beyond {@linkcode ConsoleDeps}. */
export interface ConsoleAppOptions extends ConsoleDeps {
  log: Logger;
  /** The site public key as text (base64url), and the site's name, for the pages. */
  siteKeyText: string;
  siteName: string;
  /** Served over TLS: cookies get `Secure` and the `__Host-` prefix. */
  secure: boolean;
  sessions?: ConsoleSessions;
  sessionLimits?: SessionLimits;
  throttle?: SignInThrottle;
}

/** Most password hashes computed at once; more sign-ins wait outside (503, Retry-After). */
export const MAX_CONCURRENT_SIGN_INS = 4;
/** Largest request body the console reads. */
export const MAX_CONSOLE_BODY_BYTES = 64 * 1024;

const SECURITY_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; " +
    "base-uri 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
  "X-Frame-Options": "DENY",
};

/**
 * Creates the console app.
 *
 * @example
 * ```ts ignore
 * import { createConsoleApp } from "./console_app.ts";
 * const app = createConsoleApp({ store, heldKids: () => keys.kids, siteKey, siteKeyText,
 *   siteName: "demo", secure: false, log, now: Date.now });
 * Deno.serve({ hostname: "127.0.0.1", port: 52313 }, app.fetch);
 * ```
 */
export function createConsoleApp(options: ConsoleAppOptions): Hono<ConsoleEnv> {
  const { store, log } = options;
  const sessions = options.sessions ?? new ConsoleSessions(options.sessionLimits, options.now);
  const throttle = options.throttle ?? new SignInThrottle(undefined, options.now);
  const cookie = {
    session: options.secure ? "__Host-mle_console" : "mle_console",
    form: options.secure ? "__Host-mle_console_form" : "mle_console_form",
    attributes: {
      path: "/",
      httpOnly: true,
      sameSite: "Strict" as const,
      secure: options.secure,
    },
  };
  let signInsRunning = 0;
  const app = new Hono<ConsoleEnv>();
  const audit = (operator: string, action: string, detail: string) =>
    store.appendAudit({ at: options.now(), operator, action, detail });

  app.onError((error, c) => {
    if (error instanceof DecisionError) {
      return c.json(errorBody(error.code, error.message), error.status);
    }
    return internalErrorAnswer(c, error, log, "console request failed");
  });
  app.notFound((c) =>
    c.json(errorBody("ERR_NOT_FOUND", `No such page: ${c.req.path}; start at /`), 404)
  );
  app.use("*", async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.header(name, value);
  });
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_CONSOLE_BODY_BYTES,
      onError: (c) =>
        c.json(
          errorBody(
            "ERR_BODY_TOO_LARGE",
            `Request body larger than ${MAX_CONSOLE_BODY_BYTES} bytes`,
          ),
          413,
        ),
    }),
  );

  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/assets/console.css", (c) => c.body(CONSOLE_STYLE, 200, { "Content-Type": "text/css" }));
  app.get(
    "/assets/console.js",
    (c) => c.body(CONSOLE_SCRIPT, 200, { "Content-Type": "text/javascript" }),
  );

  const signInPage = (
    c: Context<ConsoleEnv>,
    status: 200 | 401 | 403 | 429 | 503,
    error?: string,
    name?: string,
  ) => {
    // One token per browser, kept while it lives: pages opened at once (or a favicon's redirect)
    // must not replace the token of a form already shown.
    const held = getCookie(c, cookie.form);
    const formToken = held !== undefined && held.length === 43 ? held : randomToken();
    setCookie(c, cookie.form, formToken, { ...cookie.attributes, maxAge: 3600 });
    return c.html(SignInPage({ formToken, error, name }), status);
  };

  app.get("/sign-in", (c) =>
    signInPage(
      c,
      200,
      c.req.query("expired") === "1"
        ? "ERR_SESSION_EXPIRED: your session ended; sign in again"
        : undefined,
    ));

  app.post("/sign-in", async (c) => {
    const form = await c.req.parseBody();
    const name = typeof form.name === "string" ? form.name.slice(0, 64) : "";
    const password = typeof form.password === "string" ? form.password : "";
    const source = remoteHost(c);
    if (!sameToken(getCookie(c, cookie.form), String(form.form ?? "")) || form.form === "") {
      return signInPage(
        c,
        403,
        "ERR_CSRF_TOKEN: this sign-in form is not from this browser's session; sign in again",
      );
    }
    const waitMs = throttle.retryAfterMs(name, source);
    if (waitMs > 0) {
      c.header("Retry-After", String(Math.ceil(waitMs / 1000)));
      await audit(name, "sign-in-throttled", `from ${source}`);
      return signInPage(
        c,
        429,
        `ERR_SIGN_IN_THROTTLED: too many failed sign-ins; try again in ${
          Math.ceil(waitMs / 60_000)
        } minute(s)`,
        name,
      );
    }
    if (signInsRunning >= MAX_CONCURRENT_SIGN_INS) {
      c.header("Retry-After", "1");
      return signInPage(
        c,
        503,
        "ERR_SIGN_IN_BUSY: the server is busy; try again in a second",
        name,
      );
    }
    signInsRunning++;
    let operator;
    let ok = false;
    try {
      operator = await store.getOperator(name);
      ok =
        await verifyOperatorPassword(password, operator?.passwordHash ?? UNKNOWN_OPERATOR_HASH) &&
        operator !== null;
    } finally {
      signInsRunning--;
    }
    if (!ok || !operator) {
      throttle.fail(name, source);
      await audit(name, "sign-in-failed", `from ${source}`);
      return signInPage(c, 401, "ERR_SIGN_IN_FAILED: wrong name or password; try again", name);
    }
    throttle.succeed(name);
    const { token } = await sessions.start(operator.name, operator.role, operator.passwordHash);
    setCookie(c, cookie.session, token, cookie.attributes);
    deleteCookie(c, cookie.form, cookie.attributes);
    await audit(operator.name, "sign-in", `from ${source}`);
    return c.redirect("/", 303);
  });

  // Everything below needs a live session.
  app.use("*", async (c, next) => {
    const token = getCookie(c, cookie.session);
    const session = await sessions.find(token);
    const operator = session === null ? null : await store.getOperator(session.operator);
    if (session === null || operator === null || operator.passwordHash !== session.passwordHash) {
      if (session !== null) await sessions.end(token);
      if (c.req.method === "GET" && !c.req.path.startsWith("/decisions/")) {
        return c.redirect(token === undefined ? "/sign-in" : "/sign-in?expired=1", 303);
      }
      return c.json(
        errorBody("ERR_SESSION_EXPIRED", "Not signed in, or the session ended; sign in again"),
        401,
      );
    }
    c.set("session", session);
    c.set("page", {
      session,
      siteKey: options.siteKeyText,
      siteName: options.siteName,
    });
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      let token = c.req.header("X-CSRF-Token");
      if (token === undefined && c.req.header("Content-Type")?.includes("form")) {
        const form = await c.req.parseBody();
        token = typeof form.csrf === "string" ? form.csrf : undefined;
      }
      if (!sameToken(token, session.csrfToken)) {
        await audit(session.operator, "refused-no-csrf-token", `${c.req.method} ${c.req.path}`);
        return c.json(
          errorBody(
            "ERR_CSRF_TOKEN",
            "Missing or wrong CSRF token: reload the page and try again from the console",
          ),
          403,
        );
      }
    }
    if (
      session.role !== "admin" && (c.req.path === "/audit" || c.req.path.startsWith("/decisions/"))
    ) {
      await audit(session.operator, "refused-not-admin", `${c.req.method} ${c.req.path}`);
      return c.json(
        errorBody(
          "ERR_FORBIDDEN_ROLE",
          `Operator "${session.operator}" is a viewer: only an admin may do this; ask an admin ` +
            "(mle-admin operators add NAME --role admin)",
        ),
        403,
      );
    }
    return await next();
  });

  app.post("/sign-out", async (c) => {
    await sessions.end(getCookie(c, cookie.session));
    deleteCookie(c, cookie.session, cookie.attributes);
    await audit(c.get("session").operator, "sign-out", "");
    return c.redirect("/sign-in", 303);
  });

  app.get("/decisions/revocations/draft", async (c) => {
    const id = Number(c.req.query("computer"));
    if (!Number.isSafeInteger(id) || id <= 0 || (await store.getComputer(id)) === null) {
      throw new DecisionError("ERR_DECISION_INVALID", "Cannot revoke: no such computer");
    }
    return c.json(await revocationDraft(store, [id], options.now()));
  });

  app.post("/decisions/revocations", async (c) => {
    const document = await signedDocument(c);
    const result = await recordSignedRevocations(store, options.siteKey, document, options.now());
    await audit(
      c.get("session").operator,
      "revoke",
      `computers ${result.revoked.join(", ")}; revocation list serial ${result.serial}`,
    );
    log.info("console: revoked", {
      operator: c.get("session").operator,
      ids: result.revoked.join(),
    });
    return c.json({
      ...result,
      message: `Revoked computer ${
        result.revoked.join(", ")
      }; published revocation list #${result.serial}`,
    });
  });

  app.post("/decisions/settings", async (c) => {
    const document = await signedDocument(c);
    const result = await recordSignedSettings(store, options.siteKey, document, options.now());
    const target = result.computers === "all"
      ? "all computers"
      : `computers ${result.computers.join(", ")}`;
    const what = Object.entries(result.settings).map(([n, v]) => `${n}=${v}`).join(" ");
    await audit(c.get("session").operator, "settings", `${what} for ${target}; #${result.serial}`);
    return c.json({
      ...result,
      message: `Stored signed settings #${result.serial}: ${what} for ${target}`,
    });
  });

  app.get("/decisions/computer/draft", async (c) => {
    const action = c.req.query("action");
    const id = Number(c.req.query("computer"));
    if (!isComputerDecisionAction(action) || !Number.isSafeInteger(id) || id <= 0) {
      throw new DecisionError(
        "ERR_DECISION_INVALID",
        "Cannot draft the decision: expected ?action=confirm|allow-bundles|disallow-bundles" +
          "&computer=ID",
      );
    }
    return c.json(await computerDecisionDraft(store, action, id, options.now()));
  });

  app.post("/decisions/computer", async (c) => {
    const document = await signedDocument(c);
    const result = await recordComputerDecision(store, options.siteKey, document, options.now());
    const { action, computerId, serial } = result.decision;
    const replaced = result.revokedReplaced === null
      ? ""
      : `; revoked computer ${result.revokedReplaced}, which it replaces`;
    await audit(
      c.get("session").operator,
      action,
      `computer ${computerId}; decision #${serial}${replaced}`,
    );
    log.info("console: computer decision", {
      operator: c.get("session").operator,
      action,
      computerId,
    });
    const done = {
      "confirm": `Confirmed computer ${computerId}`,
      "allow-bundles": `Computer ${computerId} may send report bundles`,
      "disallow-bundles": `Computer ${computerId} may no longer send report bundles`,
    }[action];
    return c.json({
      serial,
      revokedReplaced: result.revokedReplaced,
      message: `${done} (signed decision #${serial})${replaced}` +
        (result.revokedReplaced === null
          ? ""
          : `: revoke it on its page too, so relays learn it from the signed revocation list`),
    });
  });

  app.route("/computers", uploadDownloads(options));
  app.route("/computers", computerPages(options));
  app.route("/", sitePages(options));
  return app;
}

async function signedDocument(c: Context<ConsoleEnv>): Promise<unknown> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new DecisionError("ERR_DECISION_INVALID", "Cannot read the decision: expected JSON");
  }
  if (typeof body !== "object" || body === null || !("document" in body)) {
    throw new DecisionError(
      "ERR_DECISION_INVALID",
      'Cannot read the decision: expected {"document": <signed document>}',
    );
  }
  return (body as { document: unknown }).document;
}

function remoteHost(c: Context<ConsoleEnv>): string {
  const info = c.env as { remoteAddr?: { hostname?: string } } | undefined;
  return info?.remoteAddr?.hostname ?? "unknown";
}
