import assert from "node:assert/strict";
import { defaultClientDataDir, defaultKeyStoragePath } from "../keystore/default_paths.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { rewriteOriginalRegister } from "./key_exchange_command.ts";
import { keyExchangeCommand, keyExchangeHint } from "./key_exchange_hint.ts";

const RELAY = "http://relay.example:52311";

Deno.test("keyExchangeCommand() names exactly the folders that differ from the defaults", () => {
  assert.equal(keyExchangeCommand(RELAY), `mle-client register --password … ${RELAY}`);
  assert.equal(
    keyExchangeCommand(RELAY, {
      dataDir: defaultClientDataDir(),
      keyStoragePath: defaultKeyStoragePath(),
    }),
    `mle-client register --password … ${RELAY}`,
  );
  assert.equal(
    keyExchangeCommand(RELAY, {
      dataDir: "/srv/c",
      keyStoragePath: joinPath("/srv/c", "KeyStorage"),
    }),
    `mle-client register --password … --data-dir /srv/c ${RELAY}`,
  );
  assert.equal(
    keyExchangeCommand(RELAY, { dataDir: "/srv/my client", keyStoragePath: "/keys" }),
    `mle-client register --password … --data-dir '/srv/my client' --storage-path /keys ${RELAY}`,
  );
  assert.equal(
    keyExchangeCommand(RELAY, { dataDir: defaultClientDataDir(), keyStoragePath: "/keys" }),
    `mle-client register --password … --storage-path /keys ${RELAY}`,
  );
  assert.match(keyExchangeHint(RELAY), /^run "mle-client register --password … http:.*" with/);
});

Deno.test("rewriteOriginalRegister() turns the original's -register PASSWORD URL into register", () => {
  assert.deepEqual(rewriteOriginalRegister(["report"]), ["report"]);
  assert.deepEqual(rewriteOriginalRegister(["-register", "pw", RELAY]), [
    "register",
    "--password=pw",
    RELAY,
  ]);
  assert.deepEqual(rewriteOriginalRegister(["-register", "-starts-with-dash", RELAY, "--quiet"]), [
    "register",
    "--password=-starts-with-dash",
    RELAY,
    "--quiet",
  ]);
  assert.throws(() => rewriteOriginalRegister(["-register"]), /without the relay's password/);
  assert.throws(() => rewriteOriginalRegister(["-register", "--data-dir"]), /password/);
});
