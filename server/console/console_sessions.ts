/**
 * The console's sessions: a random 256-bit token in an HttpOnly, SameSite=Strict cookie (Secure
 * over TLS), known to the server only by its SHA-256, with an idle and an absolute expiry, and a
 * CSRF token of its own that every state-changing request must echo. Sessions live in this
 * server's memory: a restart signs everyone out, and a session works only on the server that made
 * it. A session ends at its next request when its operator was removed or their password changed.
 *
 * @module
 */

import { timingSafeEqual } from "node:crypto";
import { encodeBase64Url } from "../../envelope/base64url.ts";
import type { OperatorRole } from "../../store/mod.ts";

/** What a request learns of its session. */
export interface ConsoleSession {
  operator: string;
  role: OperatorRole;
  /** The operator's password hash when the session began: a change ends the session. */
  passwordHash: string;
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
}

/** How long sessions last. */
export interface SessionLimits {
  /** Ends after this long without a request. */
  idleMs: number;
  /** Ends this long after sign-in, whatever happens. */
  absoluteMs: number;
  /** Most sessions held at once; the oldest ends first. */
  maxSessions: number;
}

/** Default limits: 30 minutes idle, 12 hours at most, 10,000 sessions. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = {
  idleMs: 30 * 60_000,
  absoluteMs: 12 * 3_600_000,
  maxSessions: 10_000,
};

/** A fresh random token, base64url (256 bits). */
export function randomToken(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** True when two tokens are equal, in time independent of where they differ. */
export function sameToken(a: string | undefined | null, b: string): boolean {
  if (typeof a !== "string" || a.length !== b.length) return false;
  const encoder = new TextEncoder();
  return timingSafeEqual(encoder.encode(a), encoder.encode(b));
}

async function tokenKey(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return encodeBase64Url(new Uint8Array(digest));
}

/** The sessions of one console. */
export class ConsoleSessions {
  readonly #sessions = new Map<string, ConsoleSession>();
  readonly #limits: SessionLimits;
  readonly #now: () => number;

  constructor(limits: SessionLimits = DEFAULT_SESSION_LIMITS, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Starts a session; returns the token for the cookie (kept here only as its hash). */
  async start(
    operator: string,
    role: OperatorRole,
    passwordHash: string,
  ): Promise<{ token: string; session: ConsoleSession }> {
    while (this.#sessions.size >= this.#limits.maxSessions) {
      this.#sessions.delete(this.#sessions.keys().next().value!);
    }
    const token = randomToken();
    const now = this.#now();
    const session = {
      operator,
      role,
      passwordHash,
      csrfToken: randomToken(),
      createdAt: now,
      lastSeenAt: now,
    };
    this.#sessions.set(await tokenKey(token), session);
    return { token, session };
  }

  /** The live session of a cookie token, touched; null when unknown or expired (then ended). */
  async find(token: string | undefined): Promise<ConsoleSession | null> {
    if (token === undefined || token.length !== 43) return null;
    const key = await tokenKey(token);
    const session = this.#sessions.get(key);
    if (!session) return null;
    const now = this.#now();
    if (
      now - session.lastSeenAt > this.#limits.idleMs ||
      now - session.createdAt > this.#limits.absoluteMs
    ) {
      this.#sessions.delete(key);
      return null;
    }
    session.lastSeenAt = now;
    return session;
  }

  /** Ends the session of a cookie token, if any. */
  async end(token: string | undefined): Promise<void> {
    if (token !== undefined) this.#sessions.delete(await tokenKey(token));
  }
}
