import assert from "node:assert/strict";
import { IngestError } from "./ingest_error.ts";
import { reportToStore } from "./report_to_store.ts";

const envelope = { computerId: 3, seq: 7, receivedAt: 1000, encrypted: true, kid: "k1" };
const report = {
  computerId: 3,
  seq: 7,
  createdAt: "2025-01-01T00:00:00Z",
  properties: { encryption_level: "required", os: "Debian 12" },
  custom: { Tag: "A-1" },
  relevance: [],
  actionStatuses: [],
  analyses: [],
};
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

Deno.test("reportToStore() keeps the report as signed, with its digest and the level it asks for", async () => {
  const bytes = encode(report);
  const stored = reportToStore(bytes, envelope);
  assert.deepEqual(stored, {
    ...envelope,
    body: JSON.stringify(report),
    digest: new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex(),
    encryptionLevel: "required",
    searchText: "required\nDebian 12\nA-1",
  });
  const noLevel = reportToStore(
    encode({ ...report, properties: { encryption_level: 2 } }),
    envelope,
  );
  assert.equal(noLevel.encryptionLevel, null);
});

Deno.test("reportToStore() refuses bytes that are not the envelope's JSON report with ERR_REPORT_INVALID", () => {
  const cases: Array<[Uint8Array, RegExp]> = [
    [new Uint8Array([0xff, 0xfe]), /not JSON/],
    [new TextEncoder().encode("{not json"), /not JSON/],
    [encode([]), /not a JSON object/],
    [encode({ ...report, seq: 8 }), /another computer id or sequence/],
    [encode({ ...report, computerId: 4 }), /another computer id or sequence/],
    [encode({ ...report, relevance: {} }), /relevance must be an array/],
  ];
  for (const [bytes, message] of cases) {
    assert.throws(() => reportToStore(bytes, envelope), (error) => {
      assert.ok(error instanceof IngestError);
      assert.equal(error.status, 400);
      assert.equal(error.code, "ERR_REPORT_INVALID");
      assert.match(error.message, message);
      return true;
    });
  }
});
