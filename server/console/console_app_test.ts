import assert from "node:assert/strict";
import { createLogger } from "../../cli/log.ts";
import { generateSigningKeyPair } from "../../envelope/signature.ts";
import { hashOperatorPassword } from "../../keystore/operator_password.ts";
import { signRevocations } from "../../protocol/revocations.ts";
import { signSettings } from "../../protocol/settings.ts";
import { SqliteStore } from "../../store/mod.ts";
import { createConsoleApp } from "./console_app.ts";

const PASSWORD = "operator passphrase";

/** A console app over an in-memory store with two operators and two computers; `using` closes it. */
async function fixture() {
  const store = new SqliteStore(":memory:");
  const site = await generateSigningKeyPair();
  let now = 1_700_000_000_000;
  const passwordHash = await hashOperatorPassword(PASSWORD);
  await store.addOperator({ name: "alice", role: "admin", passwordHash, createdAt: 0 });
  await store.addOperator({ name: "victor", role: "viewer", passwordHash, createdAt: 0 });
  for (const name of ["one", "two"]) {
    await store.registerComputer({
      publicKey: `key-${name}`,
      hostIdentity: null,
      hostname: name,
      registeredAt: 0,
    });
  }
  const app = createConsoleApp({
    store,
    heldKids: () => [],
    siteKey: site.publicKey,
    siteKeyText: "site-key-text",
    siteName: "test",
    secure: false,
    log: createLogger("test", "error"),
    now: () => now,
    sessionLimits: { idleMs: 60_000, absoluteMs: 3_600_000, maxSessions: 100 },
  });
  const request = (path: string, init: RequestInit = {}, cookie = "") =>
    app.request(path, { ...init, headers: { ...(init.headers ?? {}), Cookie: cookie } });
  const signIn = async (name: string, password = PASSWORD) => {
    const page = await request("/sign-in");
    const formCookie = page.headers.get("Set-Cookie")!.split(";")[0];
    const formToken = /name="form" value="([^"]+)"/.exec(await page.text())![1];
    return await request("/sign-in", {
      method: "POST",
      body: new URLSearchParams({ name, password, form: formToken }),
    }, formCookie);
  };
  const session = async (name: string) => {
    const response = await signIn(name);
    assert.equal(response.status, 303);
    const cookie = response.headers.get("Set-Cookie")!.split(";")[0];
    const home = await request("/", {}, cookie);
    const csrf = /name="csrf-token" content="([^"]+)"/.exec(await home.text())![1];
    return { cookie, csrf };
  };
  return {
    store,
    site,
    app,
    request,
    signIn,
    session,
    advance: (ms: number) => (now += ms),
    [Symbol.dispose]: () => store.close(),
  };
}

Deno.test("console: the session cookie is HttpOnly and SameSite=Strict; pages need it", async () => {
  using f = await fixture();
  const anonymous = await f.request("/computers");
  assert.equal(anonymous.status, 303);
  assert.equal(anonymous.headers.get("Location"), "/sign-in");
  const response = await f.signIn("alice");
  assert.equal(response.status, 303);
  const cookie = response.headers.get("Set-Cookie")!;
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/, "no Secure flag over plain HTTP");
  const page = await f.request("/computers", {}, cookie.split(";")[0]);
  assert.equal(page.status, 200);
  assert.match(page.headers.get("Content-Security-Policy")!, /default-src 'none'/);
  assert.match(await page.text(), /2 computers match/);
});

Deno.test("console: a wrong password is refused and audited; failures throttle the name", async () => {
  using f = await fixture();
  const wrong = await f.signIn("alice", "not the password");
  assert.equal(wrong.status, 401);
  assert.match(await wrong.text(), /ERR_SIGN_IN_FAILED/);
  for (let i = 0; i < 4; i++) await f.signIn("alice", "not the password");
  const throttled = await f.signIn("alice");
  assert.equal(throttled.status, 429, "even the right password waits once the name is throttled");
  assert.match(await throttled.text(), /ERR_SIGN_IN_THROTTLED/);
  assert.ok(Number(throttled.headers.get("Retry-After")) > 0);
  const actions = (await f.store.listAudit(10)).map((e) => e.action);
  assert.equal(actions.filter((a) => a === "sign-in-failed").length, 5);
  assert.ok(actions.includes("sign-in-throttled"));
  f.advance(16 * 60_000);
  assert.equal((await f.signIn("alice")).status, 303, "the window passes");
});

Deno.test("console: a sign-in form not issued to this browser is refused (login CSRF)", async () => {
  using f = await fixture();
  const response = await f.request("/sign-in", {
    method: "POST",
    body: new URLSearchParams({ name: "alice", password: PASSWORD, form: "forged" }),
  });
  assert.equal(response.status, 403);
  assert.match(await response.text(), /ERR_CSRF_TOKEN/);
});

Deno.test("console: POST without the CSRF token, a viewer's decision and an idle session are refused", async () => {
  using f = await fixture();
  const admin = await f.session("alice");
  const noToken = await f.request("/decisions/settings", {
    method: "POST",
    body: "{}",
    headers: { "Content-Type": "application/json" },
  }, admin.cookie);
  assert.equal(noToken.status, 403);
  assert.equal((await noToken.json()).error.code, "ERR_CSRF_TOKEN");

  const viewer = await f.session("victor");
  const denied = await f.request("/decisions/revocations/draft?computer=1", {}, viewer.cookie);
  assert.equal(denied.status, 403);
  assert.equal((await denied.json()).error.code, "ERR_FORBIDDEN_ROLE");
  assert.equal((await f.request("/audit", {}, viewer.cookie)).status, 403);

  f.advance(61_000);
  const expired = await f.request("/computers", {}, admin.cookie);
  assert.equal(expired.status, 303);
  assert.equal(expired.headers.get("Location"), "/sign-in?expired=1");
  const expiredPost = await f.request("/sign-out", {
    method: "POST",
    headers: { "X-CSRF-Token": admin.csrf },
  }, admin.cookie);
  assert.equal(expiredPost.status, 401);
  assert.equal((await expiredPost.json()).error.code, "ERR_SESSION_EXPIRED");
});

Deno.test("console: a changed password ends the operator's sessions", async () => {
  using f = await fixture();
  const admin = await f.session("alice");
  await f.store.setOperatorPassword("alice", await hashOperatorPassword("another passphrase"));
  const page = await f.request("/", {}, admin.cookie);
  assert.equal(page.status, 303);
});

Deno.test("console: a revocation list signed with the site key revokes; stale, forged or shrinking ones are refused", async () => {
  using f = await fixture();
  const { cookie, csrf } = await f.session("alice");
  const post = (path: string, document: unknown) =>
    f.request(path, {
      method: "POST",
      body: JSON.stringify({ document }),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    }, cookie);
  const draft = await (await f.request("/decisions/revocations/draft?computer=2", {}, cookie))
    .json();
  assert.deepEqual({ revoked: draft.revoked, serial: draft.serial }, { revoked: [2], serial: 1 });

  const forger = await generateSigningKeyPair();
  const forged = await post(
    "/decisions/revocations",
    await signRevocations(forger.privateKey, draft),
  );
  assert.equal(forged.status, 400);
  assert.equal((await forged.json()).error.code, "ERR_DECISION_INVALID");
  assert.equal((await f.store.getComputer(2))!.revokedAt, null);

  const stale = await post(
    "/decisions/revocations",
    await signRevocations(f.site.privateKey, { ...draft, serial: 7 }),
  );
  assert.equal(stale.status, 409);
  assert.equal((await stale.json()).error.code, "ERR_DECISION_STALE");

  const ok = await post(
    "/decisions/revocations",
    await signRevocations(f.site.privateKey, draft),
  );
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.deepEqual((await ok.json()).revoked, [2]);
  assert.notEqual((await f.store.getComputer(2))!.revokedAt, null);
  assert.equal(
    await f.store.getDocument("revocations"),
    JSON.stringify(
      await signRevocations(f.site.privateKey, draft),
    ),
  );

  const replay = await post(
    "/decisions/revocations",
    await signRevocations(f.site.privateKey, draft),
  );
  assert.equal(replay.status, 409, "the same serial again is stale");
  const shrinking = await post(
    "/decisions/revocations",
    await signRevocations(f.site.privateKey, { ...draft, revoked: [1], serial: 2 }),
  );
  assert.equal(shrinking.status, 400, "a list may never take a revocation back");
  assert.match((await shrinking.json()).error.message, /leaves out revoked computer 2/);
  assert.ok((await f.store.listAudit(20)).some((e) => e.action === "revoke"));
});

Deno.test("console: settings signed with the site key are stored for their targets", async () => {
  using f = await fixture();
  const { cookie, csrf } = await f.session("alice");
  const post = (document: unknown) =>
    f.request("/decisions/settings", {
      method: "POST",
      body: JSON.stringify({ document }),
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    }, cookie);
  const body = {
    computers: [1],
    settings: { _BESClient_Report_Encryption: "required" },
    issuedAt: 1_700_000_000_000,
    id: "a",
  };
  const ok = await post(await signSettings(f.site.privateKey, body));
  assert.equal(ok.status, 200, await ok.clone().text());
  assert.equal((await f.store.listSettingsFor(1)).length, 1);
  assert.equal((await f.store.listSettingsFor(2)).length, 0);
  const old = await post(await signSettings(f.site.privateKey, { ...body, issuedAt: 1 }));
  assert.equal(old.status, 400);
  const unknown = await post(await signSettings(f.site.privateKey, { ...body, computers: [99] }));
  assert.equal(unknown.status, 400);
  assert.match((await unknown.json()).error.message, /no such computer/);
});
