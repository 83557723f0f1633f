/**
 * The repository's import graph, read from the import and export lines of its `.ts` and `.tsx`
 * files, and the cycles in it: between files, and between top-level folders. A cycle makes
 * modules that cannot be understood, tested or moved one at a time, so the repository has none
 * (`import_graph_test.ts` keeps it so). Run `deno run --allow-read scripts/import_graph.ts` to
 * list any.
 *
 * @module
 */

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/** Files and the repository-relative files each one imports. */
export type ImportGraph = Map<string, string[]>;

const SKIPPED_FOLDERS = new Set(["node_modules", "dist", ".git", ".ci"]);
// `import … from "x"`, `export … from "x"`, `import "x"` and `import("x")`, type-only ones included:
// a cycle through types still ties the files together.
const SPECIFIER =
  /(?:^|[;\s])(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']|(?:^|[;\s])import\s*\(?\s*["']([^"']+)["']/gm;

/** The relative specifiers a module's text imports or re-exports. */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const match of code.matchAll(SPECIFIER)) {
    const specifier = match[1] ?? match[2];
    if (specifier.startsWith("./") || specifier.startsWith("../")) found.push(specifier);
  }
  return found;
}

/** Reads the import graph of every `.ts`/`.tsx` file under `root`, paths relative to it. */
export function readImportGraph(root: string): ImportGraph {
  const graph: ImportGraph = new Map();
  const visit = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!SKIPPED_FOLDERS.has(entry.name)) visit(path);
      } else if (/\.tsx?$/.test(entry.name)) {
        const from = relative(root, path);
        const targets = importSpecifiers(readFileSync(path, "utf8"))
          .map((specifier) => normalize(join(dirname(from), specifier)));
        graph.set(from, [...new Set(targets)]);
      }
    }
  };
  visit(root);
  return graph;
}

/**
 * The folder graph: top-level folders (a root file counts as folder ".") and the folders their
 * modules import. Test files (`*_test.ts`) are left out: nothing imports a test, so what one
 * imports says what that folder's tests use, not what the folder's code depends on (a unit test
 * beside `envelope/` code may use a fixture of `tests/` that itself uses `envelope/`).
 */
export function folderGraph(graph: ImportGraph): ImportGraph {
  const folders: ImportGraph = new Map();
  for (const [from, targets] of graph) {
    if (from.endsWith("_test.ts")) continue;
    const source = topFolder(from);
    const edges = new Set(folders.get(source) ?? []);
    for (const target of targets) {
      if (topFolder(target) !== source) edges.add(topFolder(target));
    }
    folders.set(source, [...edges]);
  }
  return folders;
}

/**
 * Every strongly connected group of two or more nodes (or a node importing itself): each one holds
 * at least one cycle. Sorted, so the answer is the same on every run.
 *
 * @example
 * ```ts
 * import { cycles } from "./import_graph.ts";
 * const graph = new Map([["a.ts", ["b.ts"]], ["b.ts", ["a.ts"]], ["c.ts", ["a.ts"]]]);
 * console.log(cycles(graph)); // [["a.ts", "b.ts"]]
 * ```
 */
export function cycles(graph: ImportGraph): string[][] {
  // Tarjan's algorithm, iterative so that a deep chain of imports cannot overflow the stack.
  const index = new Map<string, number>();
  const lowest = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let counter = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    lowest.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const targets = graph.get(frame.node) ?? [];
      if (frame.next < targets.length) {
        const target = targets[frame.next++];
        if (!index.has(target)) {
          index.set(target, counter);
          lowest.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push({ node: target, next: 0 });
        } else if (onStack.has(target)) {
          lowest.set(frame.node, Math.min(lowest.get(frame.node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].node;
        lowest.set(parent, Math.min(lowest.get(parent)!, lowest.get(frame.node)!));
      }
      if (lowest.get(frame.node) === index.get(frame.node)) {
        const group: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          group.push(member);
        } while (member !== frame.node);
        if (group.length > 1 || targets.includes(frame.node)) groups.push(group.sort());
      }
    }
  }
  return groups.sort((a, b) => a[0].localeCompare(b[0]));
}

function topFolder(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? "." : path.slice(0, slash);
}

if (import.meta.main) {
  const graph = readImportGraph(Deno.cwd());
  const found = [
    ...cycles(graph).map((group) => `files: ${group.join(" <-> ")}`),
    ...cycles(folderGraph(graph)).map((group) => `folders: ${group.join(" <-> ")}`),
  ];
  for (const line of found) console.log(line);
  if (found.length > 0) Deno.exit(1);
}
