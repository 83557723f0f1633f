/**
 * A server whose current MLE key file is unusable (readable by others, so refused) says so in its
 * log and in `mle-admin encryption status`, tells clients it cannot decrypt for now (503
 * `ERR_KEY_UNAVAILABLE`), and loses nothing: reports stay queued until the file is fixed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encryptionKeysDir } from "../keystore/encryption_keys.ts";
import { joinPath } from "../keystore/secure_file.ts";
import {
  admin,
  clientReport,
  clientStatus,
  createSite,
  encryptionStatus,
  generateKey,
  startServer,
  storedReports,
} from "./deployment.ts";
import { eventually } from "./eventually.ts";

const IS_WINDOWS = Deno.build.os === "windows";

Deno.test({
  name:
    "a world-readable current key file: the server and encryption status say chmod 600, clients are told it cannot decrypt now and keep their reports, which go once it is fixed",
  ignore: IS_WINDOWS,
  async fn() {
    const site = await createSite();
    const kid = await generateKey(site, true);
    const keyFile = joinPath(encryptionKeysDir(site.serverDir), `${kid}.pvk`);
    await Deno.chmod(keyFile, 0o644);
    const server = await startServer(site);
    const clientDir = `${site.root}/client`;
    try {
      await server.waitFor("encryption key not usable here");
      assert.match(server.stderr + server.stdout, /mode 0644: run chmod 600/);

      const status = await admin(["encryption", "status", "--data-dir", site.serverDir]);
      assert.match(
        status.stdout,
        new RegExp(
          `Current key's private key here: unusable, mode 0644: run chmod 600 "${keyFile}"`,
        ),
      );
      assert.match(status.stdout, new RegExp(`${kid} .*unusable, mode 0644: run chmod 600`));
      const json = await encryptionStatus(site);
      assert.equal(json.keys[0].privateKeyFile, true);
      assert.equal(
        json.keys[0].privateKeyProblem,
        `unusable, mode 0644: run chmod 600 "${keyFile}"`,
      );

      const held = await clientReport(site, clientDir, site.serverPort, [
        "--encryption",
        "required",
      ]);
      assert.notEqual(held.code, 0, held.stderr);
      assert.doesNotMatch(held.stdout + held.stderr, /retry-with-new-certificate/);
      assert.match(held.stderr, /503/);
      assert.match(held.stderr, /cannot use its private key/);
      assert.match(held.stderr, /reports stay queued/);
      assert.doesNotMatch(held.stderr, /chmod|0644/, "the file's details are the operator's");
      const queued = await clientStatus(clientDir);
      assert.equal(queued.queueDepth, 1, JSON.stringify(queued));

      await Deno.chmod(keyFile, 0o600);
      await server.waitFor("encryption key loaded");
      const sent = await clientReport(site, clientDir, site.serverPort, [
        "--encryption",
        "required",
      ]);
      assert.equal(sent.code, 0, sent.stderr);
      const stored = await eventually(async () => {
        const reports = await storedReports(
          site,
          (await clientStatus(clientDir)).computerId as number,
        );
        return reports.length === 2 ? reports : undefined;
      }, "both reports stored");
      assert.deepEqual(stored.map((r) => [r.seq, r.encrypted, r.kid]), [[1, true, kid], [
        2,
        true,
        kid,
      ]]);
      const after = await encryptionStatus(site);
      assert.equal(after.keys[0].privateKeyProblem, null);
    } finally {
      await server.stop();
      await Deno.remove(site.root, { recursive: true });
    }
  },
});
