import assert from "node:assert/strict";
import { expandHome } from "./home_path.ts";
import { UsageError } from "./output.ts";

Deno.test("expandHome() expands a leading ~ alone or before a separator, and nothing else", () => {
  const cases: [string, string][] = [
    ["~", "/home/ops"],
    ["~/site/license.pvk", "/home/ops/site/license.pvk"],
    ["/root/~/x", "/root/~/x"],
    ["site/~", "site/~"],
    ["~ops/site", "~ops/site"],
    ["~~/x", "~~/x"],
    ["", ""],
  ];
  for (const [path, expected] of cases) assert.equal(expandHome(path, "/home/ops"), expected, path);
  assert.equal(expandHome("~/x", "/home/ops/"), "/home/ops/x");
});

Deno.test("expandHome() refuses ~ when no home folder is known, naming the path", () => {
  const saved = { HOME: Deno.env.get("HOME"), USERPROFILE: Deno.env.get("USERPROFILE") };
  Deno.env.delete("HOME");
  Deno.env.delete("USERPROFILE");
  try {
    assert.throws(() => expandHome("~/site/license.pvk"), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.match(error.message, /Cannot expand "~" in the path "~\/site\/license.pvk"/);
      return true;
    });
    assert.equal(expandHome("/etc/x"), "/etc/x");
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value !== undefined) Deno.env.set(name, value);
    }
  }
});
