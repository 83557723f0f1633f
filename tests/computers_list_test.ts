/**
 * `mle-admin computers list` filters and CSV, against a server that real clients reported to:
 * by a property of the last report, by level in force, by the key the last report was encrypted
 * to (or clear text), and by state.
 *
 * @module
 */

import assert from "node:assert/strict";
import { admin, createSite, generateKey, registerByReport, startServer } from "./deployment.ts";
import { runRole } from "./run_role.ts";

async function listIds(site: { serverDir: string }, filters: string[]): Promise<number[]> {
  const result = await admin([
    "computers",
    "list",
    ...filters,
    "--json",
    "--data-dir",
    site.serverDir,
  ]);
  return (JSON.parse(result.stdout) as Array<{ id: number }>).map((c) => c.id).sort((a, b) =>
    a - b
  );
}

Deno.test("computers list filters by --where, --level, --key and --state, and writes CSV", async () => {
  await using site = await createSite();
  const kid = await generateKey(site, true);
  await using _server = await startServer(site);
  const report = (name: string, extra: string[]) =>
    registerByReport(site, `${site.root}/${name}`, site.serverPort, extra);
  const ops = await report("ops", ["--encryption", "required", "--property", "Owner=ops"]);
  const dev = await report("dev", ["--encryption", "optional", "--property", "Owner=dev"]);
  const clear = await report("clear", ["--encryption", "none", "--property", "Owner=ops"]);

  assert.deepEqual(await listIds(site, ["--where", "Owner=ops"]), [ops, clear]);
  assert.deepEqual(await listIds(site, ["--where", "Owner=ops", "--level", "required"]), [ops]);
  assert.deepEqual(await listIds(site, ["--level", "none"]), [clear]);
  assert.deepEqual(await listIds(site, ["--key", kid.slice(0, 8)]), [ops, dev]);
  assert.deepEqual(await listIds(site, ["--key", "clear"]), [clear]);
  assert.deepEqual(await listIds(site, ["--state", "revoked"]), []);

  await admin([
    "computers",
    "revoke",
    String(dev),
    "--site-key",
    site.siteKey,
    "--data-dir",
    site.serverDir,
  ]);
  assert.deepEqual(await listIds(site, ["--state", "revoked"]), [dev]);
  assert.deepEqual(await listIds(site, ["--state", "active"]), [ops, clear]);
  assert.deepEqual(await listIds(site, ["--state", "revoked,active", "--key", "clear"]), [clear]);

  const csv = await admin([
    "computers",
    "list",
    "--where",
    "Owner=ops",
    "--format",
    "csv",
    "--data-dir",
    site.serverDir,
  ]);
  const lines = csv.stdout.trimEnd().split("\n");
  assert.equal(
    lines[0],
    "id,hostname,registered_at,last_report_at,last_kid,level,states,replaced_by,duplicate_of,rotation",
  );
  assert.equal(lines.length, 3);
  const byId = new Map(lines.slice(1).map((line) => [Number(line.split(",")[0]), line]));
  assert.match(byId.get(ops)!, new RegExp(`,${kid},required,active,`));
  assert.match(byId.get(clear)!, /,clear,none,active,/);

  for (
    const [flags, said] of [
      [["--level", "sometimes"], /--level "sometimes": expected required, optional or none/],
      [["--key", "xyz"], /--key "xyz"/],
      [["--state", "asleep"], /--state "asleep": expected one of active, revoked/],
      [["--where", "Owner"], /--where "Owner": expected NAME=VALUE/],
      [["--format", "xml"], /--format "xml"/],
    ] as const
  ) {
    const refused = await runRole("admin", [
      "computers",
      "list",
      ...flags,
      "--data-dir",
      site.serverDir,
    ]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, said);
  }
});
