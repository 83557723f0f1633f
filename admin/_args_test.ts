import assert from "node:assert/strict";
import { UsageError } from "../cli/output.ts";
import { type AdminCommand, type CommandContext, subcommandGroup } from "./_args.ts";

const context: CommandContext = { dataDir: "/srv/mle" };

Deno.test("subcommandGroup() runs the named subcommand on the rest of the line", async () => {
  const calls: [string, string[], CommandContext][] = [];
  const record = (name: string): AdminCommand => (args, context) => {
    calls.push([name, args, context]);
    return Promise.resolve(name === "add" ? 0 : 1);
  };
  const things = subcommandGroup("things", "help", {
    add: record("add"),
    remove: record("remove"),
  });
  assert.equal(await things(["add", "x", "--y"], context), 0);
  assert.equal(await things(["remove"], context), 1);
  assert.deepEqual(calls, [["add", ["x", "--y"], context], ["remove", [], context]]);
});

Deno.test("subcommandGroup() refuses a missing or unknown subcommand, listing the names in order", async () => {
  const none: AdminCommand = () => Promise.reject(new Error("must not run"));
  const three = { set: none, unset: none, list: none };
  const cases: [Record<string, AdminCommand>, string[], string][] = [
    [three, [], "Missing settings command: expected set, unset or list"],
    [three, ["--all"], "Missing settings command: expected set, unset or list"],
    [three, ["forget"], 'Unknown settings command "forget": expected set, unset or list'],
    // Only the table's own names: nothing inherited from Object.prototype runs.
    [three, ["constructor"], 'Unknown settings command "constructor": expected set, unset or list'],
    [{ list: none }, ["show"], 'Unknown settings command "show": expected list'],
  ];
  for (const [subcommands, args, message] of cases) {
    await assert.rejects(
      subcommandGroup("settings", "help", subcommands)(args, context),
      (error: unknown) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.equal(error.message, message);
        return true;
      },
      args.join(" "),
    );
  }
});
