/**
 * `GET /api/v1/computers/ID` on a real server: only a relay the administrator allowed, signing
 * the request with its registered key, learns a computer's id, public key and whether it may
 * send; nobody else learns anything, not even whether the computer exists.
 */

import assert from "node:assert/strict";
import { API } from "../protocol/paths.ts";
import { RELAY_AUTH_HEADER, signRelayRequest } from "../protocol/relay_request.ts";
import { admin, createSite, registerSender, startServer } from "./deployment.ts";

Deno.test("the server answers GET /api/v1/computers/ID only to an allowed relay's signed request, with the id, key and whether it may send", async () => {
  await using site = await createSite();
  await using _server = await startServer(site);
  const relay = await registerSender(site.serverPort);
  const client = await registerSender(site.serverPort);
  const path = `${API.computers}/${client.computerId}`;
  const ask = async (header?: string) => {
    const response = await fetch(`http://127.0.0.1:${site.serverPort}${path}`, {
      headers: header === undefined ? {} : { [RELAY_AUTH_HEADER]: header },
    });
    return { status: response.status, body: await response.json() };
  };
  const refusedWith = async (header: string | undefined, code: string) => {
    const { status, body } = await ask(header);
    assert.equal(status, 403, JSON.stringify(body));
    assert.equal(body.error.code, code);
    assert.ok(!JSON.stringify(body).includes("publicKey"), JSON.stringify(body));
  };

  await refusedWith(undefined, "ERR_RELAY_AUTH_REQUIRED");
  await refusedWith("1.2.not-a-signature", "ERR_RELAY_AUTH_REQUIRED");
  // 86 base64url characters whose last one carries stray bits: not a signature (was a 500).
  await refusedWith(`1.2.${"A".repeat(85)}B`, "ERR_RELAY_AUTH_REQUIRED");
  const signed = (key: CryptoKey, target = path, at = Date.now()) =>
    signRelayRequest(key, relay.computerId, "GET", target, at);
  // A registered computer is not a relay until the administrator allows it.
  await refusedWith(await signed(relay.privateKey), "ERR_RELAY_NOT_ALLOWED");

  await admin([
    "relays",
    "allow",
    String(relay.computerId),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  await refusedWith(await signed(client.privateKey), "ERR_RELAY_AUTH_INVALID");
  await refusedWith(
    await signed(relay.privateKey, `${API.computers}/${relay.computerId}`),
    "ERR_RELAY_AUTH_INVALID",
  );
  await refusedWith(
    await signed(relay.privateKey, path, Date.now() - 10 * 60 * 1000),
    "ERR_RELAY_AUTH_EXPIRED",
  );

  const { status, body } = await ask(await signed(relay.privateKey));
  assert.equal(status, 200, JSON.stringify(body));
  assert.deepEqual(Object.keys(body).sort(), ["computerId", "maySend", "publicKey"]);
  assert.equal(body.computerId, client.computerId);
  assert.equal(body.maySend, true);
  assert.match(body.publicKey, /^[A-Za-z0-9_-]{43}$/);
});
