import assert from "node:assert/strict";
import { openStore } from "../store/mod.ts";
import { admin, describe, makeTestSite, removeTestSite } from "./_test_utils.ts";

const KID = "0123456789abcdef0123456789abcdef01234567";

Deno.test("reports shows a computer's reports with their properties", async () => {
  const site = await makeTestSite();
  try {
    const store = openStore(site.dataDir);
    let id: number;
    try {
      id = (await store.registerComputer({
        publicKey: "alpha-key",
        hostIdentity: null,
        hostname: "alpha",
        registeredAt: Date.now(),
      })).id;
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
    } finally {
      store.close();
    }

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
  } finally {
    await removeTestSite(site);
  }
});

Deno.test("reports refuses an unknown computer (exit 1) and misuse (exit 2)", async () => {
  const site = await makeTestSite();
  try {
    const unknown = await admin(["reports", "--computer", "7", "--data-dir", site.dataDir]);
    assert.equal(unknown.code, 1, describe(unknown));
    assert.match(
      unknown.stderr,
      /^mle-admin: error: Cannot show reports of computer 7: no such computer$/m,
    );
    for (
      const [args, message] of [
        [["reports"], /Missing option --computer/],
        [["reports", "--computer", "0"], /Cannot use computer id "0"/],
        [["reports", "--computer"], /Missing value of option "--computer"/],
      ] as [string[], RegExp][]
    ) {
      const result = await admin([...args, "--data-dir", site.dataDir]);
      assert.equal(result.code, 2, describe(result));
      assert.match(result.stderr, message);
    }
  } finally {
    await removeTestSite(site);
  }
});
