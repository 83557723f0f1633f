import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { cycles, folderGraph, importSpecifiers, readImportGraph } from "./import_graph.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const REPOSITORY = readImportGraph(ROOT);

Deno.test("the repository has no import cycle between files", () => {
  assert.ok(REPOSITORY.size > 300, `read only ${REPOSITORY.size} files`);
  assert.deepEqual(cycles(REPOSITORY), []);
});

Deno.test("the repository has no import cycle between top-level folders", () => {
  assert.deepEqual(cycles(folderGraph(REPOSITORY)), []);
});

Deno.test("readImportGraph() reads the same imports as deno info for every module the four roles load", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "main.ts"],
    cwd: ROOT,
    stdout: "piped",
  }).output();
  const info = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
    }[];
  };
  const prefix = new URL("..", import.meta.url).href;
  const repositoryPath = (url: string) => url.startsWith(prefix) ? url.slice(prefix.length) : null;
  let compared = 0;
  for (const module of info.modules) {
    const path = repositoryPath(module.specifier);
    if (path === null || path.startsWith("node_modules/")) continue;
    const expected = (module.dependencies ?? [])
      .map((dependency) => dependency.code ?? dependency.type)
      .map((target) => target && repositoryPath(target.specifier))
      .filter((target): target is string => !!target && !target.startsWith("node_modules/"));
    assert.deepEqual([...REPOSITORY.get(path)!].sort(), [...new Set(expected)].sort(), path);
    compared += 1;
  }
  assert.ok(compared > 100, `compared only ${compared} modules`);
});

Deno.test("importSpecifiers() reads static, re-exported, type-only and dynamic imports, not comments", () => {
  const source = [
    'import { a } from "./a.ts";',
    'import type {\n  B,\n  C,\n} from "../b/c.ts";',
    'export * from "./d.ts";',
    'export { e } from "./e.ts";',
    'import "./f.ts";',
    'const g = await import("./g.ts");',
    'import assert from "node:assert/strict";',
    '// import { h } from "./h.ts";',
    '/**\n * import { i } from "./i.ts";\n */',
  ].join("\n");
  assert.deepEqual(importSpecifiers(source), [
    "./a.ts",
    "../b/c.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
  ]);
});

Deno.test("cycles() finds a cycle between files, one through three files, and a file importing itself", () => {
  const graph = new Map([
    ["relay/a.ts", ["relay/b.ts"]],
    ["relay/b.ts", ["relay/a.ts", "cli/log.ts"]],
    ["cli/log.ts", []],
    ["x.ts", ["y.ts"]],
    ["y.ts", ["z.ts"]],
    ["z.ts", ["x.ts"]],
    ["self.ts", ["self.ts"]],
  ]);
  assert.deepEqual(cycles(graph), [["relay/a.ts", "relay/b.ts"], ["self.ts"], [
    "x.ts",
    "y.ts",
    "z.ts",
  ]]);
});

Deno.test("folderGraph() finds a cycle between folders whose files form none, and ignores tests", () => {
  const graph = new Map([
    ["scripts/bench.ts", ["tests/deployment.ts"]],
    ["tests/deployment.ts", ["envelope/jwe.ts"]],
    ["tests/run_role.ts", ["scripts/permissions.ts"]],
    ["scripts/permissions.ts", []],
    ["envelope/jwe.ts", []],
    ["envelope/jwe_test.ts", ["tests/fuzz.ts"]],
    ["tests/fuzz.ts", ["envelope/jwe.ts"]],
  ]);
  assert.deepEqual(cycles(graph), []);
  assert.deepEqual(cycles(folderGraph(graph)), [["scripts", "tests"]]);
});
