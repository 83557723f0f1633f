/**
 * The sealed content-key vault across a real server restart: a client whose content key the
 * server already unwrapped costs no RSA operation after the restart, and the content key is never
 * in clear anywhere in the server's data dir.
 */

import assert from "node:assert/strict";
import {
  clientReport,
  clientStatus,
  createSite,
  generateKey,
  serverMetrics,
  startServer,
  storedReports,
} from "./deployment.ts";
import { readTree } from "./recording_proxy.ts";

/** The client's content key, as it keeps it in its KeyStorage (content-key.json). */
async function clientContentKey(clientDir: string): Promise<Uint8Array<ArrayBuffer>> {
  const stored = JSON.parse(await Deno.readTextFile(`${clientDir}/KeyStorage/content-key.json`));
  const raw = Uint8Array.fromBase64(stored.raw, { alphabet: "base64url" });
  assert.equal(raw.length, 32);
  return raw;
}

/**
 * Every form the key's bytes could take in a file: raw, hex, and base64 in both alphabets at each
 * of the three alignments it could have inside a longer encoding.
 */
function keyForms(raw: Uint8Array): string[] {
  const forms = [String.fromCharCode(...raw), raw.toHex(), raw.toHex().toUpperCase()];
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + raw.length);
    padded.set(raw, shift);
    for (const alphabet of ["base64", "base64url"] as const) {
      const encoded = padded.toBase64({ alphabet, omitPadding: true });
      // Drop the characters that depend on neighbouring bytes.
      forms.push(encoded.slice(Math.ceil((shift * 4) / 3) + 1, -2));
    }
  }
  return forms;
}

Deno.test("a server restart costs no RSA operation for a client whose content key was unwrapped before, and the key is never in clear in the data dir", async () => {
  await using site = await createSite();
  const kid = await generateKey(site, true);
  await using server = await startServer(site);
  const port = site.serverPort;
  const known = `${site.root}/client-known`;
  const newcomer = `${site.root}/client-new`;
  let result = await clientReport(site, known, port, ["--encryption", "required"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    (await serverMetrics(server)).rsaPrivateOps,
    1,
    "one unwrap for the new content key",
  );
  const key = await clientContentKey(known);

  await server.stop(); // SIGTERM: the server writes what its vault still holds, then exits
  await using restarted = await startServer(site);
  assert.equal((await serverMetrics(restarted)).rsaPrivateOps, 0);

  result = await clientReport(site, known, port, ["--encryption", "required"]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(await clientContentKey(known), key, "the client reused its content key");
  let after = await serverMetrics(restarted);
  assert.equal(after.rsaPrivateOps, 0, "no RSA operation for the known client after the restart");
  assert.equal(after.contentKeyVault.hits, 1);
  const cid = (await clientStatus(known)).computerId as number;
  const stored = await storedReports(site, cid);
  assert.equal(stored.length, 2);
  assert.ok(stored.every((report) => report.encrypted && report.kid === kid));

  // A client the server never saw still costs its one unwrap: the count is real.
  result = await clientReport(site, newcomer, port, ["--encryption", "required"]);
  assert.equal(result.code, 0, result.stderr);
  after = await serverMetrics(restarted);
  assert.equal(after.rsaPrivateOps, 1);

  // Nothing in the server's data dir (database, WAL, key folder) holds a content key in clear;
  // the same search finds it where it is meant to be: in the client's own KeyStorage.
  const clientDisk = await readTree(`${known}/KeyStorage`);
  assert.ok(keyForms(key).some((form) => clientDisk.includes(form)), "the search finds keys");
  const disk = await readTree(site.serverDir);
  for (const [who, raw] of [["known", key], ["new", await clientContentKey(newcomer)]] as const) {
    for (const form of keyForms(raw)) {
      assert.ok(!disk.includes(form), `the ${who} client's content key is in the data dir`);
    }
  }
});
