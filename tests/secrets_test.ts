/**
 * Secrets given to the roles, with real processes: a password file others can read is refused
 * by every role with one error naming the `chmod` to run (and nothing changes), and the
 * `MLE_*_PASSWORD` variables never reach a child process a role starts.
 */

import assert from "node:assert/strict";
import { pathExists } from "../keystore/secure_file.ts";
import { runRole } from "./run_role.ts";
import { createSite, freePort, generateKey, relayRunArgs, TEST_PASSWORD } from "./deployment.ts";

/** A password file as a careless `echo pw > file` leaves it: readable by everyone. */
async function worldReadable(path: string): Promise<string> {
  await Deno.writeTextFile(path, `${TEST_PASSWORD}\n`);
  await Deno.chmod(path, 0o644);
  return path;
}

/** The one error every role gives for it. */
function insecureFileError(tool: string, path: string): string {
  return `${tool}: error: Cannot read password file "${path}": others can access it (mode 644); ` +
    `run: chmod 600 "${path}"`;
}

Deno.test({
  name: "every role refuses a password file others can read (site, transfer, relay, client), " +
    "exits 2 with one error naming chmod 600, and changes nothing",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const site = await createSite();
    const readable = await worldReadable(`${site.root}/readable-password`);
    const noEnvPassword = { MLE_SITE_PASSWORD: "", MLE_TRANSFER_PASSWORD: "" };
    /** Runs a role that must refuse `readable`: exit 2 and the one error, the chmod to run. */
    const assertRefused = async (
      role: "admin" | "relay" | "client",
      args: string[],
      env: Record<string, string>,
      error = insecureFileError(`mle-${role}`, readable),
    ) => {
      const result = await runRole(role, args, { env });
      assert.equal(result.code, 2, result.stderr);
      assert.ok(result.stderr.includes(error), result.stderr);
    };
    const generateKeyArgs = [
      "-reportencryption",
      "-generatekey",
      "-privateKeySize=min",
      `-sitePvkLocation=${site.siteKey}`,
      `-password-file=${readable}`,
      "--data-dir",
      site.serverDir,
    ];
    const authenticatingRelayArgs = relayRunArgs(
      `${site.root}/relay`,
      freePort(),
      site.serverPort,
      ["--authenticating"],
    );
    try {
      // The site key's password: a new site is not created.
      const newSiteKey = `${site.root}/other-site/license.pvk`;
      await assertRefused("admin", [
        "init-site",
        "--data-dir",
        `${site.root}/other-server`,
        "--site-key",
        newSiteKey,
        "--masthead",
        `${site.root}/other-site/masthead.json`,
        "--server-url",
        "http://127.0.0.1:52311",
        "--password-file",
        readable,
      ], noEnvPassword);
      assert.equal(await pathExists(newSiteKey), false, "init-site wrote a site key");

      // The site key's password for an act on an existing site, in the seed's syntax: no key.
      await assertRefused("admin", generateKeyArgs, noEnvPassword);
      const status = await runRole("admin", [
        "encryption",
        "status",
        "--json",
        "--data-dir",
        site.serverDir,
      ]);
      assert.deepEqual(JSON.parse(status.stdout).keys, [], "a key was generated");

      // The transfer password: nothing is exported.
      await generateKey(site, true);
      const usb = `${site.root}/usb`;
      await assertRefused("admin", [
        "encryption",
        "export",
        "--to",
        usb,
        "--transfer-password-file",
        readable,
        "--data-dir",
        site.serverDir,
      ], noEnvPassword);
      assert.equal(await pathExists(usb), false, "export wrote to the stick");

      // An authenticating relay's shared password: it does not start.
      const noRelayPassword = { MLE_RELAY_SHARED_PASSWORD: "" };
      await assertRefused(
        "relay",
        [...authenticatingRelayArgs, "--password-file", readable],
        noRelayPassword,
      );

      // Its one-time passwords: the same rule, the same error.
      await assertRefused(
        "relay",
        [...authenticatingRelayArgs, "--one-time-passwords", readable],
        noRelayPassword,
        insecureFileError("mle-relay", readable).replace("password file", "one-time password file"),
      );

      // A client's password for the manual key exchange: nothing is registered or created.
      const clientDir = `${site.root}/client`;
      await assertRefused("client", [
        "register",
        "--password-file",
        readable,
        "--data-dir",
        clientDir,
        "--masthead",
        site.masthead,
        "http://127.0.0.1:9",
      ], { MLE_RELAY_PASSWORD: "" });
      assert.equal(await pathExists(`${clientDir}/KeyStorage`), false, "register made a key pair");

      // The same file, made owner-only as the error says, is accepted.
      await Deno.chmod(readable, 0o600);
      const fixed = await runRole("admin", generateKeyArgs, { env: noEnvPassword });
      assert.equal(fixed.code, 0, fixed.stderr);
    } finally {
      await Deno.remove(site.root, { recursive: true });
    }
  },
});

Deno.test({
  name: "a role started with MLE_*_PASSWORD variables gives none of them to a process it starts",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "mle-secret-env-" });
    try {
      // The client's key rotation runs the agent's init script: here, one that records the
      // environment it was given. An ordinary variable proves that the environment does reach it.
      const seen = `${root}/environment.txt`;
      const initScript = `${root}/besclient`;
      await Deno.writeTextFile(initScript, `#!/bin/sh\nenv > "${seen}"\nexit 1\n`, {
        mode: 0o700,
      });
      await Deno.chmod(initScript, 0o700);
      const secrets = {
        MLE_SITE_PASSWORD: `site-${crypto.randomUUID()}`,
        MLE_RELAY_PASSWORD: `relay-${crypto.randomUUID()}`,
        MLE_RELAY_SHARED_PASSWORD: `shared-${crypto.randomUUID()}`,
        MLE_TRANSFER_PASSWORD: `transfer-${crypto.randomUUID()}`,
      };
      const canary = `canary-${crypto.randomUUID()}`;
      await Deno.mkdir(`${root}/client`, { mode: 0o700 });
      const rotated = await runRole("client", [
        "rotate-keys",
        "--compromised",
        "--data-dir",
        `${root}/client`,
        "--init-script",
        initScript,
        "--parent",
        "http://127.0.0.1:9",
      ], { env: { ...secrets, MLE_TEST_CANARY: canary } });
      assert.ok(await Deno.stat(seen), `the init script did not run: ${rotated.stderr}`);
      const environment = await Deno.readTextFile(seen);
      assert.ok(environment.includes(`MLE_TEST_CANARY=${canary}`), "the environment reached it");
      for (const [name, value] of Object.entries(secrets)) {
        assert.ok(!environment.includes(name), `${name} reached the child process`);
        assert.ok(!environment.includes(value), `the value of ${name} reached the child process`);
      }
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
