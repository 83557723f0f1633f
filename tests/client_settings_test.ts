/**
 * Issue 11, section 3 (client settings): a client derives its settings from every verified
 * settings document that targets it, the newest winning per setting, so a parent that withholds a
 * document on one cycle cannot keep it from applying later, nor roll a setting back by serving
 * only an older document. Real processes on 127.0.0.1, the parent's answers filtered on the path.
 */

import assert from "node:assert/strict";
import { decodeBase64UrlText } from "../envelope/base64url.ts";
import { API } from "../protocol/paths.ts";
import {
  admin,
  clientReport,
  clientStatus,
  registerByReport,
  setSettings,
  startSiteBehindProxy,
} from "./deployment.ts";
import { TamperingProxy } from "./tampering_proxy.ts";
import type { TestSite } from "./deployment.ts";

/** Has the proxy drop every site-wide settings document from the parent's answer. */
function withholdSiteWideSettings(proxy: TamperingProxy): void {
  proxy.tamper = async (request, forward) => {
    const answer = await forward();
    if (!request.path.startsWith(API.settings) || answer.status !== 200) return answer;
    const body = await answer.json() as { documents: Array<{ payload: string }> };
    body.documents = body.documents.filter((document) =>
      JSON.parse(decodeBase64UrlText(document.payload)).computers !== "all"
    );
    return Response.json(body);
  };
}

async function reportAndReadSettings(
  site: TestSite,
  clientDir: string,
  port: number,
): Promise<Record<string, string>> {
  const result = await clientReport(site, clientDir, port);
  assert.equal(result.code, 0, result.stderr);
  return (await clientStatus(clientDir)).deployedSettings as Record<string, string>;
}

Deno.test("a settings document withheld by the parent on one cycle applies when served later, and an older document never overrides a newer one for the same setting", async () => {
  await using deployment = await startSiteBehindProxy();
  const { site, proxy: parent } = deployment;
  const clientDir = `${site.root}/client`;
  const computerId = await registerByReport(site, clientDir, parent.port);

  // Issued in this order: site-wide first, then per-computer.
  await setSettings(site, "all", ["Test_SiteWide=site"]);
  await setSettings(site, computerId, ["Test_PerComputer=mine"]);

  withholdSiteWideSettings(parent);
  let settings = await reportAndReadSettings(site, clientDir, parent.port);
  assert.equal(settings.Test_PerComputer, "mine");
  assert.equal(settings.Test_SiteWide, undefined, "the parent withheld it");

  parent.tamper = null;
  settings = await reportAndReadSettings(site, clientDir, parent.port);
  assert.equal(settings.Test_SiteWide, "site", "served later, it must apply");
  assert.equal(settings.Test_PerComputer, "mine");

  // One setting in two documents: the per-computer one older, the site-wide one newer.
  await setSettings(site, computerId, ["Test_Shared=older"]);
  await setSettings(site, "all", ["Test_Shared=newer"]);
  settings = await reportAndReadSettings(site, clientDir, parent.port);
  assert.equal(settings.Test_Shared, "newer");

  // The parent now serves only the older document for that setting: nothing rolls back.
  withholdSiteWideSettings(parent);
  settings = await reportAndReadSettings(site, clientDir, parent.port);
  assert.equal(settings.Test_Shared, "newer");
  assert.equal(settings.Test_SiteWide, "site");
});

Deno.test("settings unset: the client drops the value and falls back to its install-time level; a parent withholding the removal cannot bring an older value back afterwards", async () => {
  await using deployment = await startSiteBehindProxy();
  const { site, proxy: parent } = deployment;
  const clientDir = `${site.root}/client`;
  const level = "_BESClient_Report_Encryption";
  const install = ["--encryption", "optional"];
  assert.equal((await clientReport(site, clientDir, parent.port, install)).code, 0);
  const computerId = (await clientStatus(clientDir)).computerId as number;
  await setSettings(site, computerId, [`${level}=none`]);
  await setSettings(site, "all", ["Test_Kept=yes"]);
  assert.equal((await clientReport(site, clientDir, parent.port, install)).code, 0);
  let status = await clientStatus(clientDir);
  assert.equal((status.deployedSettings as Record<string, string>)[level], "none");
  assert.equal(status.encryptionLevelSource, "deployed");

  await admin([
    "settings",
    "unset",
    level,
    "--computer",
    String(computerId),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  assert.equal((await clientReport(site, clientDir, parent.port, install)).code, 0);
  status = await clientStatus(clientDir);
  assert.equal((status.deployedSettings as Record<string, string>)[level], undefined);
  assert.equal((status.deployedSettings as Record<string, string>).Test_Kept, "yes");
  assert.equal(status.encryptionLevel, "optional");
  assert.equal(status.encryptionLevelSource, "command line");

  // The parent now serves only the older document that set the value: it stays removed.
  parent.tamper = async (request, forward) => {
    const answer = await forward();
    if (!request.path.startsWith(API.settings) || answer.status !== 200) return answer;
    const body = await answer.json() as { documents: Array<{ payload: string }> };
    body.documents = body.documents.filter((document) =>
      !JSON.parse(decodeBase64UrlText(document.payload)).unset
    );
    return Response.json(body);
  };
  assert.equal((await clientReport(site, clientDir, parent.port, install)).code, 0);
  status = await clientStatus(clientDir);
  assert.equal((status.deployedSettings as Record<string, string>)[level], undefined);
});
