/**
 * The web console in a real browser (Debian's Chromium through playwright-core), against real
 * processes: a server, a relay and clients on 127.0.0.1. An operator signs in, finds a computer a
 * client reported through the relay, filters by level and key, and revokes it by signing the
 * revocation list in the browser with license.pvk (the client's next report is refused); the
 * refusals are checked as a browser meets them. The screenshots for the README are taken here.
 */

import assert from "node:assert/strict";
import { browserTest, launchChromium } from "./browser.ts";
import { addOperators, OPERATOR_PASSWORD, signIn } from "./console_operators.ts";
import {
  clientReport,
  createSite,
  freePort,
  generateKey,
  registerByReport,
  startRelay,
  startServer,
  storedReports,
  TEST_PASSWORD,
  waitForStored,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";

/**
 * The sessions' idle limit: longer than any stretch without a request in the flows below (the
 * revocation's key derivations in the page take seconds on a loaded machine), short enough to wait
 * out at the end.
 */
const IDLE_MS = 15_000;
const IMAGES = new URL("../docs/images/", import.meta.url).pathname;

await browserTest(
  "console in Chromium: find a computer reported through a relay, filter, revoke by " +
    "signing in the browser; refusals",
  async () => {
    await using site = await createSite();
    const kid = await generateKey(site, true);
    await addOperators(site, [["alice", "admin"], ["victor", "viewer"]]);
    await using server = await startServer(site, ["--console-session-idle", `${IDLE_MS / 1000}s`]);
    const relayPort = freePort();
    await using _relay = await startRelay(`${site.root}/relay`, relayPort, site.serverPort);
    await using browser = await launchChromium();
    // Two clients through the relay: one encrypting (required), one in clear text (none).
    const encrypting = `${site.root}/client-a`;
    const clear = `${site.root}/client-b`;
    const idA = await registerByReport(site, encrypting, relayPort, [
      "--encryption",
      "required",
      "--property",
      "Department=finance-console-test",
    ]);
    const idB = await registerByReport(site, clear, relayPort, ["--encryption", "none"]);
    await waitForStored(site, idA, 1);
    await waitForStored(site, idB, 1);
    const base = server.consoleUrl!;
    assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();

    // Refused: a wrong password.
    assert.match(await signIn(page, base, "alice", "not the password"), /ERR_SIGN_IN_FAILED/);

    // Signed in: the overview counts both computers.
    await signIn(page, base, "alice", OPERATOR_PASSWORD);
    assert.equal(new URL(page.url()).pathname, "/");
    assert.equal(await page.textContent("#computers-total"), "2");
    assert.equal(await page.textContent("#encrypting"), "1");
    assert.equal(await page.textContent("#clear"), "1");
    await page.screenshot({ path: `${IMAGES}console-overview.png`, fullPage: true });

    // Find the computer by a property value of its last report, then filter by level and key.
    const rows = async () =>
      await page.$$eval(
        "#computers tbody tr",
        (trs) => trs.map((tr) => tr.getAttribute("data-computer")),
      );
    await page.goto(`${base}/computers`);
    await page.fill("input[name=q]", "finance-console-test");
    await page.click("form.filters button");
    await page.waitForLoadState();
    assert.deepEqual(await rows(), [String(idA)]);
    await page.goto(`${base}/computers`);
    await page.selectOption("select[name=level]", "none");
    await page.click("form.filters button");
    await page.waitForLoadState();
    assert.deepEqual(await rows(), [String(idB)]);
    await page.goto(`${base}/computers?kid=${kid}`);
    assert.deepEqual(await rows(), [String(idA)]);
    await page.goto(`${base}/computers?kid=clear`);
    assert.deepEqual(await rows(), [String(idB)]);

    // The computer page: its key and the property it reported.
    await page.click(`#computers a[href="/computers/${idB}"]`);
    await page.goto(`${base}/computers/${idA}`);
    assert.equal(await page.textContent("#computer-key"), kid);
    assert.match((await page.textContent("#properties"))!, /finance-console-test/);
    // (The screenshot of a computer page, with uploads, is console_decisions_browser_test.ts's.)

    // Refused: a POST without the CSRF token, even with the session cookie.
    const noToken = await page.evaluate(async () => {
      const response = await fetch("/decisions/settings", { method: "POST", body: "{}" });
      return { status: response.status, body: await response.json() };
    });
    assert.equal(noToken.status, 403);
    assert.equal(noToken.body.error.code, "ERR_CSRF_TOKEN");

    // A wrong site key password is caught in the browser; nothing is sent.
    const revoke = page.locator('form.sign-decision[data-kind="revocations"]');
    await revoke.locator("input[type=file]").setInputFiles(site.siteKey);
    await revoke.locator("input[type=password]").fill("not the site password");
    await revoke.locator("button").click();
    await page.waitForSelector(".decision-result.failed");
    assert.match((await revoke.locator(".decision-result").textContent())!, /Wrong password/);
    assert.equal((await storedReports(site, idA)).length, 1);

    // Revoke: license.pvk opened and the list signed in the browser; only the signature is sent.
    const requests: string[] = [];
    page.on("request", (request) => requests.push(request.postData() ?? ""));
    await revoke.locator("input[type=password]").fill(TEST_PASSWORD);
    await revoke.locator("button").click();
    await page.waitForSelector(".decision-result.ok", { timeout: 60_000 });
    assert.match(
      (await revoke.locator(".decision-result").textContent())!,
      new RegExp(`Revoked computer ${idA}`),
    );
    assert.ok(requests.some((body) => body.includes('"document"')));
    assert.ok(
      requests.every((body) => !body.includes(TEST_PASSWORD) && !body.includes("ciphertext")),
    );

    // The audit log names who revoked what.
    await page.goto(`${base}/audit`);
    const lastRequestAt = Date.now();
    assert.match(
      (await page.textContent("#audit"))!,
      new RegExp(`alice\\s*revoke\\s*computers ${idA}`),
    );

    // A viewer sees no decision and is refused one.
    const viewerContext = await browser.newContext();
    const viewer = await viewerContext.newPage();
    await signIn(viewer, base, "victor", OPERATOR_PASSWORD);
    await viewer.goto(`${base}/computers/${idB}`);
    assert.equal(await viewer.locator("form.sign-decision").count(), 0);
    // The page's own CSRF token, so that only the role is wrong.
    const denied = await viewer.evaluate(`(async () => {
      const csrf = document.querySelector('meta[name="csrf-token"]').content;
      const response = await fetch("/decisions/revocations/draft?computer=${idB}", {
        headers: { "X-CSRF-Token": csrf },
      });
      return { status: response.status, body: await response.json() };
    })()`) as { status: number; body: { error: { code: string } } };
    assert.equal(denied.status, 403);
    assert.equal(denied.body.error.code, "ERR_FORBIDDEN_ROLE");
    await viewerContext.close();

    // Throttled: past five failures for one name, even the right password waits.
    const throttled = await browser.newContext();
    const guesser = await throttled.newPage();
    for (let i = 0; i < 5; i++) await signIn(guesser, base, "victor", `guess ${i}`);
    assert.match(
      await signIn(guesser, base, "victor", OPERATOR_PASSWORD),
      /ERR_SIGN_IN_THROTTLED/,
    );
    await throttled.close();

    // The revoked computer's next report is refused by the server.
    const next = await clientReport(site, encrypting, site.serverPort, [
      "--encryption",
      "required",
    ]);
    assert.notEqual(next.code, 0, next.stdout);
    assert.match(next.stderr, /revoked|ERR_COMPUTER_REVOKED/i);
    assert.equal((await storedReports(site, idA)).length, 1);

    // Expired: once the idle time passed without a request, the next page asks to sign in again
    // (waiting on the clock, not polling the page: every page request keeps a session alive).
    await eventually(
      () => Date.now() - lastRequestAt > IDLE_MS ? true : undefined,
      "the session's idle time to pass",
    );
    await page.goto(`${base}/computers`);
    assert.equal(new URL(page.url()).pathname, "/sign-in");
    assert.match(await page.content(), /ERR_SESSION_EXPIRED/);
    await context.close();
  },
);
