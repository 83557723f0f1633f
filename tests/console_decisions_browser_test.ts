/**
 * The console's computer decisions and uploads in a real browser (Debian's Chromium through
 * playwright-core), against real processes on 127.0.0.1: a client uploads a file, which an admin
 * downloads from the computer's page and a viewer is refused; an admin confirms a computer flagged
 * by a registration claim (made with the product's protocol code) and allows a decrypting relay's
 * bundles, both signed in the browser with license.pvk; a replayed decision is refused. The
 * screenshot of a computer page with its uploads is taken here.
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { browserTest, launchChromium } from "./browser.ts";
import { addOperators, signIn } from "./console_operators.ts";
import {
  admin,
  clientUpload,
  copyKeysByUsb,
  createSiteWithKey,
  freePort,
  listComputers,
  registerByReport,
  registerFreshKey,
  relayComputerId,
  startRelay,
  startServer,
  TEST_PASSWORD,
} from "./deployment.ts";

const IMAGES = new URL("../docs/images/", import.meta.url).pathname;

/** Signs the page's decision form of `action` with the site key; returns the result text. */
async function signDecision(page: Page, selector: string, siteKey: string): Promise<string> {
  const form = page.locator(selector);
  await form.locator("input[type=file]").setInputFiles(siteKey);
  await form.locator("input[type=password]").fill(TEST_PASSWORD);
  await form.locator("button").click();
  await form.locator(".decision-result.ok, .decision-result.failed").waitFor({ timeout: 60_000 });
  return (await form.locator(".decision-result").textContent())!;
}

/** Fetches `path` from the page with its session and CSRF token. */
async function fetchFromPage(
  page: Page,
  path: string,
  body?: string,
): Promise<{ status: number; text: string; disposition: string | null }> {
  // A string, as the page runs it: this file is type-checked without the DOM's types.
  return await page.evaluate(`(async () => {
    const csrf = document.querySelector('meta[name="csrf-token"]').content;
    const body = ${JSON.stringify(body ?? null)};
    const response = await fetch(${JSON.stringify(path)}, {
      method: body === null ? "GET" : "POST",
      headers: { "X-CSRF-Token": csrf, "Content-Type": "application/json" },
      body: body ?? undefined,
    });
    return {
      status: response.status,
      text: await response.text(),
      disposition: response.headers.get("Content-Disposition"),
    };
  })()`) as { status: number; text: string; disposition: string | null };
}

await browserTest(
  "console in Chromium: download an upload (admins only), confirm a flagged computer and " +
    "allow a relay's bundles signed in the browser; a replayed decision is refused",
  async () => {
    await using site = await createSiteWithKey();
    const relayDir = `${site.root}/relay`;
    await copyKeysByUsb(site, relayDir);
    await addOperators(site, [["alice", "admin"], ["victor", "viewer"]]);
    await using server = await startServer(site);
    const relayPort = freePort();
    await using relay = await startRelay(relayDir, relayPort, site.serverPort, ["--decrypt"]);
    await using browser = await launchChromium();
    const relayId = await relayComputerId(relay);

    // A client reports and uploads a file with a name that needs care in a header.
    const clientDir = `${site.root}/client`;
    const encryption = ["--encryption", "required"];
    const clientId = await registerByReport(site, clientDir, site.serverPort, encryption);
    const file = `${site.root}/disk "usage"; report.txt`;
    const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);
    await Deno.writeFile(file, bytes);
    const uploaded = await clientUpload(site, clientDir, site.serverPort, file, encryption);
    assert.equal(uploaded.code, 0, uploaded.stderr);

    // A registration claiming, with the client's host identity, to replace it: flagged.
    const instance = (await Deno.readTextFile(`${clientDir}/instance-id`)).trim();
    const claim = await registerFreshKey(site, {
      hostIdentity: `instance:${instance}`,
      hostname: "replacement",
      previousComputerId: clientId,
      compromised: true,
    });
    assert.equal(claim.status, 200, JSON.stringify(claim.body));
    const flaggedId = claim.body.computerId!;

    const base = server.consoleUrl!;
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    await signIn(page, base, "alice");

    // The computer's page lists the upload; the admin downloads exactly its bytes.
    await page.goto(`${base}/computers/${clientId}`);
    const uploads = (await page.textContent("#uploads"))!;
    assert.match(uploads, /disk "usage"; report\.txt/);
    assert.match(uploads, /300000 bytes/);
    assert.match(uploads, /complete/);
    await page.screenshot({ path: `${IMAGES}console-computer.png`, fullPage: true });
    const href = (await page.locator("#uploads a[download]").getAttribute("href"))!;
    const download = await context.request.get(`${base}${href}`);
    assert.equal(download.status(), 200);
    assert.deepEqual(new Uint8Array(await download.body()), bytes);
    const disposition = download.headers()["content-disposition"];
    assert.match(disposition, /^attachment; filename="disk__usage___report\.txt"; filename\*=/);

    // A viewer sees the list but is refused the file.
    const viewerContext = await browser.newContext();
    const viewer = await viewerContext.newPage();
    await signIn(viewer, base, "victor");
    await viewer.goto(`${base}/computers/${clientId}`);
    assert.match((await viewer.textContent("#uploads"))!, /report\.txt/);
    assert.equal(await viewer.locator("#uploads a[download]").count(), 0);
    const refused = await fetchFromPage(viewer, href);
    assert.equal(refused.status, 403);
    assert.equal(JSON.parse(refused.text).error.code, "ERR_FORBIDDEN_ROLE");
    await viewerContext.close();

    // Confirm the flagged computer, signed in the browser; only the signed document is sent.
    const posted: string[] = [];
    page.on("request", (request) => {
      if (request.method() === "POST") posted.push(request.postData() ?? "");
    });
    await page.goto(`${base}/computers/${flaggedId}`);
    const confirmed = await signDecision(
      page,
      'form.sign-decision[data-action="confirm"]',
      site.siteKey,
    );
    assert.match(confirmed, new RegExp(`Confirmed computer ${flaggedId}`));
    assert.match(confirmed, new RegExp(`revoked computer ${clientId}`));
    const listed = await listComputers(site, { all: true });
    assert.equal(listed.find((c) => c.id === flaggedId)!.flagged, null);
    assert.notEqual(listed.find((c) => c.id === clientId)!.revokedAt, null);

    // Allow the decrypting relay's bundles, signed in the browser.
    await page.goto(`${base}/computers/${relayId}`);
    const allowed = await signDecision(
      page,
      'form.sign-decision[data-action="allow-bundles"]',
      site.siteKey,
    );
    assert.match(allowed, new RegExp(`Computer ${relayId} may send report bundles`));
    const relays = JSON.parse(
      (await admin(["relays", "list", "--json", "--data-dir", site.serverDir])).stdout,
    ) as Array<{ computerId: number }>;
    assert.deepEqual(relays.map((r) => r.computerId), [relayId]);
    assert.ok(posted.every((body) => !body.includes(TEST_PASSWORD)));

    // Replayed: the signed confirm, posted again, is refused and changes nothing.
    const confirmDocument = posted.find((body) => body.includes('"document"'))!;
    const replay = await fetchFromPage(page, "/decisions/computer", confirmDocument);
    assert.equal(replay.status, 409, replay.text);
    assert.equal(JSON.parse(replay.text).error.code, "ERR_DECISION_STALE");

    // The audit log names who downloaded which file and who decided what.
    await page.goto(`${base}/audit`);
    const audit = (await page.textContent("#audit"))!;
    assert.match(
      audit,
      new RegExp(`alice\\s*download\\s*computer ${clientId} upload [0-9a-f]{32}`),
    );
    assert.match(audit, new RegExp(`alice\\s*confirm\\s*computer ${flaggedId}`));
    assert.match(audit, new RegExp(`alice\\s*allow-bundles\\s*computer ${relayId}`));
    await context.close();
  },
);
