import assert from "node:assert/strict";
import { windowsCommandLine, windowsServiceCommands } from "./windows_service.ts";

Deno.test("windowsCommandLine() quotes as the Microsoft C runtime splits", () => {
  const cases: [string[], string][] = [
    [["C:\\bin\\mle-client.exe", "run"], "C:\\bin\\mle-client.exe run"],
    [["C:\\Program Files\\mle.exe"], '"C:\\Program Files\\mle.exe"'],
    [["a\\\\b"], "a\\\\b"],
    [['say "hi"'], '"say \\"hi\\""'],
    [["C:\\dir with space\\"], '"C:\\dir with space\\\\"'],
    [[""], '""'],
  ];
  for (const [argv, expected] of cases) assert.equal(windowsCommandLine(argv), expected);
});

Deno.test("windowsServiceCommands() creates an automatic service that restarts on failure and restarts it through the service manager", () => {
  const commands = windowsServiceCommands({
    name: "BES Client",
    description: "BES Client",
    argv: ["C:\\Program Files\\MLE\\mle-client.exe", "run"],
    dataDir: "C:\\ProgramData\\BES Client",
    writablePaths: [],
  });
  assert.deepEqual(commands.create[0], [
    "sc.exe",
    "create",
    "BES Client",
    "binPath=",
    '"C:\\Program Files\\MLE\\mle-client.exe" run',
    "start=",
    "auto",
    "DisplayName=",
    "BES Client",
  ]);
  assert.equal(commands.create[2][1], "failure");
  assert.deepEqual(commands.restart.slice(0, 3), ["powershell.exe", "-NoProfile", "-Command"]);
  assert.equal(commands.restart[3], "Restart-Service -Name 'BES Client'");
  assert.deepEqual(commands.delete, ["sc.exe", "delete", "BES Client"]);
});
