import assert from "node:assert/strict";
import { roleCommand } from "../tests/run_role.ts";
import {
  admin,
  describe,
  makeTestSite,
  openTestStore,
  registerTestComputer,
  type TestSite,
} from "./_test_utils.ts";

const KID = "0123456789abcdef0123456789abcdef01234567";

Deno.test("reports shows a computer's reports with their properties", async () => {
  await using site = await makeTestSite();
  using store = openTestStore(site);
  const id = (await registerTestComputer(store, "alpha")).id;
  const body = (seq: number) =>
    JSON.stringify({
      computerId: id,
      seq,
      createdAt: Date.UTC(2024, 0, 1),
      properties: { hostname: "alpha", memoryMiB: 2048 },
      custom: { owner: "ops" },
    });
  await store.storeReports([
    {
      computerId: id,
      seq: 1,
      receivedAt: Date.UTC(2024, 0, 1, 0, 0, 1),
      encrypted: true,
      kid: KID,
      body: body(1),
      digest: "a",
      encryptionLevel: "required",
    },
    {
      computerId: id,
      seq: 2,
      receivedAt: Date.UTC(2024, 0, 1, 0, 0, 2),
      encrypted: false,
      kid: null,
      body: body(2),
      digest: "b",
      encryptionLevel: "optional",
    },
  ]);

  const human = await admin(["reports", "--computer", String(id), "--data-dir", site.dataDir]);
  assert.equal(human.code, 0, describe(human));
  assert.match(
    human.stdout,
    new RegExp(`^#1 {2}received 2024-01-01T00:00:01Z {2}encrypted yes {2}key ${KID}$`, "m"),
  );
  assert.match(human.stdout, /^#2 {2}received 2024-01-01T00:00:02Z {2}encrypted no {2}key -$/m);
  assert.match(human.stdout, /^ {2}properties:\n {4}hostname: alpha\n {4}memoryMiB: 2048$/m);
  assert.match(human.stdout, /^ {2}custom:\n {4}owner: ops$/m);

  const json = await admin(["reports", "--json", "--computer", String(id)], {
    MLE_DATA_DIR: site.dataDir,
  });
  assert.equal(json.code, 0, describe(json));
  const reports = JSON.parse(json.stdout);
  assert.deepEqual(reports.map((r: { seq: number }) => r.seq), [1, 2]);
  assert.equal(reports[0].encrypted, true);
  assert.equal(reports[0].kid, KID);
  assert.equal(reports[1].kid, null);
  assert.deepEqual(reports[0].report.properties, { hostname: "alpha", memoryMiB: 2048 });
  assert.equal(reports[0].receivedAt, Date.UTC(2024, 0, 1, 0, 0, 1));
});

Deno.test("reports refuses an unknown computer (exit 1) and misuse (exit 2)", async () => {
  await using site = await makeTestSite();
  const unknown = await admin(["reports", "--computer", "7", "--data-dir", site.dataDir]);
  assert.equal(unknown.code, 1, describe(unknown));
  assert.match(
    unknown.stderr,
    /^mle-admin: error: Cannot show reports of computer 7: no such computer$/m,
  );
  for (
    const [args, message] of [
      [["reports", "--since", "yesterday"], /Cannot use --since "yesterday"/],
      [["reports", "--limit", "0"], /Cannot use --limit "0"/],
      [["reports", "--where", "=x"], /Cannot use --where "=x": expected NAME=VALUE/],
      [["reports", "--format", "xml"], /Cannot use --format "xml"/],
      [["reports", "--format", "csv", "--json"], /Cannot use --json with --format/],
      [["reports", "--computer", "0"], /Cannot use computer id "0"/],
      [["reports", "--computer"], /Missing value of option "--computer"/],
    ] as [string[], RegExp][]
  ) {
    const result = await admin([...args, "--data-dir", site.dataDir]);
    assert.equal(result.code, 2, describe(result));
    assert.match(result.stderr, message);
  }
});

/** Stores `count` reports from computers 1..`computers`, round robin, one second apart. */
async function storeMany(site: TestSite, count: number, computers: number, start: number) {
  using store = openTestStore(site);
  for (let c = 1; c <= computers; c++) {
    await registerTestComputer(store, `host-${c}`, start);
  }
  const batch = [];
  for (let i = 0; i < count; i++) {
    const computerId = (i % computers) + 1;
    const seq = Math.floor(i / computers) + 1;
    batch.push({
      computerId,
      seq,
      receivedAt: start + i * 1000,
      encrypted: i % 2 === 0,
      kid: i % 2 === 0 ? "ab".repeat(20) : null,
      body: JSON.stringify({
        computerId,
        seq,
        properties: { os: computerId === 1 ? "Linux" : "Windows", cpus: 4, n: i },
        custom: { note: i === 0 ? '=HYPERLINK("x"), "quoted"' : "plain" },
      }),
      digest: String(i),
      encryptionLevel: "optional",
    });
  }
  await store.storeReports(batch);
}

Deno.test("reports across computers: newest first, --since, --limit, --where on properties, as text, JSON Lines and CSV", async () => {
  await using site = await makeTestSite();
  const start = Date.parse("2025-06-01T00:00:00Z");
  await storeMany(site, 12, 3, start);
  const run = async (args: string[]) => {
    const result = await admin(["reports", ...args, "--data-dir", site.dataDir]);
    assert.equal(result.code, 0, describe(result));
    return result;
  };
  const lines = (await run(["--format", "json"])).stdout.trimEnd().split("\n")
    .map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((r) => r.report.properties.n), [
    11,
    10,
    9,
    8,
    7,
    6,
    5,
    4,
    3,
    2,
    1,
    0,
  ]);
  assert.deepEqual(Object.keys(lines[0]), [
    "computerId",
    "seq",
    "receivedAt",
    "encrypted",
    "kid",
    "report",
  ]);

  const since = (await run(["--format", "json", "--since", "2025-06-01T00:00:09Z"])).stdout
    .trimEnd().split("\n").map((line) => JSON.parse(line).report.properties.n);
  assert.deepEqual(since, [11, 10, 9]);
  const linux = (await run(["--format", "json", "--where", "os=Linux", "--limit", "2"])).stdout
    .trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(linux.map((r) => [r.computerId, r.report.properties.n]), [[1, 9], [1, 6]]);
  // Numbers compare as text; several --where must all hold.
  const both = (await run(["--format", "json", "--where", "cpus=4", "--where", "n=3"])).stdout;
  assert.equal(both.trimEnd().split("\n").length, 1);
  assert.equal(JSON.parse(both).report.properties.n, 3);
  assert.equal((await run(["--where", "os=Plan9"])).stdout, "No reports match\n");

  const csv = (await run(["--format", "csv", "--since", "2025-06-01T00:00:00Z"])).stdout;
  const rows = csv.split("\r\n");
  assert.equal(rows[0], "computer_id,seq,received_at,encrypted,kid,properties,custom");
  assert.equal(rows.length, 14); // header, 12 rows, and the empty string after the last CRLF
  assert.equal(
    rows[12],
    "1,1,2025-06-01T00:00:00Z,yes," + "ab".repeat(20) +
      ',"{""os"":""Linux"",""cpus"":4,""n"":0}","{""note"":""=HYPERLINK(\\""x\\""), \\""quoted\\""""}"',
  );

  const text = await run(["--limit", "2"]);
  assert.match(
    text.stdout,
    /^computer 3 #4 {2}received 2025-06-01T00:00:11Z {2}encrypted no {2}key -$/m,
  );
  assert.match(text.stdout, /^computer 2 #4 {2}received 2025-06-01T00:00:10Z/m);
  assert.doesNotMatch(text.stdout, /00:00:09Z/);

  // The array form, kept for scripts that read --json.
  const array = JSON.parse((await run(["--json", "--where", "os=Linux"])).stdout);
  assert.deepEqual(array.map((r: { seq: number }) => r.seq), [4, 3, 2, 1]);
});

Deno.test("reports --format json of 20 000 reports: the first line is the newest, and a reader that stops early (| head) ends it quietly with exit 0", async () => {
  await using site = await makeTestSite();
  await storeMany(site, 20_000, 50, Date.parse("2025-06-01T00:00:00Z"));
  const { command, args } = roleCommand("admin", [
    "reports",
    "--format",
    "json",
    "--data-dir",
    site.dataDir,
  ]);
  const child = new Deno.Command(command, {
    args,
    stdout: "piped",
    stderr: "null",
    env: { MLE_DATA_DIR: "" },
  }).spawn();
  const reader = child.stdout.getReader();
  // Cancelling our end after the first block closes the pipe, which must end it quietly.
  const first = await reader.read();
  assert.ok(
    first.value && first.value.length < 20_000 * 150,
    "the first block is not everything",
  );
  const firstLine = new TextDecoder().decode(first.value).split("\n")[0];
  assert.equal(JSON.parse(firstLine).report.properties.n, 19_999);
  await reader.cancel();
  const status = await child.status;
  assert.equal(status.code, 0);
});
