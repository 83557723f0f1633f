import assert from "node:assert/strict";
import { LINUX_CLIENT_SERVICE as CLIENT } from "./_test_definitions.ts";
import { quoteSystemdWord, systemdUnit } from "./systemd_unit.ts";

Deno.test("systemdUnit() restarts on failure, hardens the sandbox and names state and log directories", () => {
  const lines = systemdUnit(CLIENT).split("\n");
  for (
    const line of [
      'ExecStart="/usr/local/bin/mle-client" "run" "--data-dir" "/var/opt/BESClient"',
      "Restart=on-failure",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
      "StateDirectory=besclient",
      "LogsDirectory=besclient",
      // The client deletes and recreates KeyStorage: the folder above it must be writable.
      'ReadWritePaths="-/var/opt/BESClient" "-/etc/opt/BESClient"',
      "WantedBy=multi-user.target",
    ]
  ) assert.ok(lines.includes(line), line);
});

Deno.test("quoteSystemdWord() keeps %, $, quotes and backslashes literal", () => {
  assert.equal(quoteSystemdWord(`a%b$c"d\\e`), `"a%%b$$c\\"d\\\\e"`);
});

Deno.test("systemdUnit() refuses a newline or a relative executable, which would change the unit", () => {
  assert.throws(
    () => systemdUnit({ ...CLIENT, argv: [...CLIENT.argv, "x\nExecStartPre=/bin/sh"] }),
    RangeError,
  );
  assert.throws(() => systemdUnit({ ...CLIENT, argv: ["mle-client", "run"] }), RangeError);
  assert.throws(() => systemdUnit({ ...CLIENT, dataDir: "relative" }), RangeError);
});
