/**
 * What the soak's tally reads to judge a run: what the server stored (reports under every id a
 * computer was replaced from, uploads as the admin tool lists them), what each agent holds (its
 * state and queue), files' digests, and which files hold a canary's bytes.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import type { TestSite } from "../tests/deployment.ts";

/** The SHA-256 of a file, lowercase hex. */
export async function sha256Hex(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Files under `dir` whose bytes contain `needle`. */
export async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const found: string[] = [];
  const bytes = new TextEncoder().encode(needle);
  const walk = async (path: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(path));
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      else if (entry.isFile && contains(await Deno.readFile(full), bytes)) found.push(full);
    }
  };
  await walk(dir);
  return found;
}

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** An agent's computer id and the next sequence number it will spend (its `state.json`). */
export async function agentState(
  dir: string,
): Promise<{ computerId: number | null; nextSeq: number }> {
  const state = JSON.parse(await Deno.readTextFile(`${dir}/state.json`).catch(() => "{}"));
  return { computerId: state.computerId ?? null, nextSeq: state.nextSeq ?? 1 };
}

/**
 * The number an agent killed just now spent without queuing its report, if any: the agent spends
 * a number in `state.json` before it writes `queue/<seq>.json`, so a kill between the two leaves a
 * number no report carries (never a lost report). A number whose file is gone because it was
 * delivered is not one: it is stored.
 */
export async function spentUnqueued(
  dir: string,
  delivered: () => Set<number>,
): Promise<number | null> {
  const seq = (await agentState(dir)).nextSeq - 1;
  if (seq < 1) return null;
  const queued = await Deno.lstat(`${dir}/queue/${seq}.json`).then(() => true, () => false);
  return queued || delivered().has(seq) ? null : seq;
}

/** A computer id and every id the server says it replaced (`replaced_by`), oldest last. */
export function idsReplacedInto(db: DatabaseSync, computerId: number): number[] {
  const ids = [computerId];
  const older = db.prepare("SELECT id FROM computers WHERE replaced_by = ?");
  for (let i = 0; i < 10; i++) {
    const row = older.get(ids.at(-1)!) as { id: number } | undefined;
    if (row === undefined || ids.includes(row.id)) break;
    ids.push(row.id);
  }
  return ids;
}

/** The sequence numbers the server stored under any of `ids`, as a list (duplicates kept). */
export function storedSeqsOf(db: DatabaseSync, ids: number[]): number[] {
  const query = db.prepare("SELECT seq FROM reports WHERE computer_id = ?");
  return ids.flatMap((id) => (query.all(id) as Array<{ seq: number }>).map((row) => row.seq));
}

/** An upload as `admin uploads list --json` shows it. */
export interface UploadRow {
  state: string;
  sha256: string;
  path: string | null;
}

/** The server's uploads, as the admin tool lists them (none when it cannot). */
export function uploadsOf(site: TestSite): UploadRow[] {
  const output = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      new URL("../admin/main.ts", import.meta.url).pathname,
      "uploads",
      "list",
      "--json",
      "--data-dir",
      site.serverDir,
    ],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  try {
    return JSON.parse(new TextDecoder().decode(output.stdout));
  } catch {
    return [];
  }
}
