import assert from "node:assert/strict";
import {
  compareDocumentVersions,
  describeDocumentVersion,
  type DocumentVersion,
  readDocumentSerial,
} from "./document_version.ts";

const YEAR = 365 * 86_400_000;
const NOW = Date.UTC(2025, 4, 1);

Deno.test("compareDocumentVersions() orders documents with serials by serial, whatever their issuedAt", () => {
  const clockAhead: DocumentVersion = { serial: 4, issuedAt: NOW + 10 * YEAR };
  const later: DocumentVersion = { serial: 5, issuedAt: NOW };
  assert.ok(compareDocumentVersions(later, clockAhead) > 0);
  assert.ok(compareDocumentVersions(clockAhead, later) < 0);
  assert.equal(compareDocumentVersions(later, { serial: 5, issuedAt: NOW - 1 }), 0);
});

Deno.test("compareDocumentVersions() puts a document without a serial before any with one, and orders those by issuedAt", () => {
  const legacy: DocumentVersion = { issuedAt: NOW + 10 * YEAR };
  assert.ok(compareDocumentVersions(legacy, { serial: 1, issuedAt: NOW - YEAR }) < 0);
  assert.ok(compareDocumentVersions({ serial: 1, issuedAt: 0 }, legacy) > 0);
  assert.ok(compareDocumentVersions({ issuedAt: NOW }, { issuedAt: NOW - 1 }) > 0);
  assert.ok(compareDocumentVersions({ issuedAt: NOW - 1 }, { issuedAt: NOW }) < 0);
  assert.equal(compareDocumentVersions({ issuedAt: NOW }, { issuedAt: NOW }), 0);
});

Deno.test("readDocumentSerial() takes a positive integer or nothing", () => {
  assert.equal(readDocumentSerial({}), undefined);
  assert.equal(readDocumentSerial({ serial: 3 }), 3);
  for (const serial of [0, -2, 1.5, "3", null, 2 ** 53, Number.NaN]) {
    assert.throws(() => readDocumentSerial({ serial }), RangeError, String(serial));
  }
});

Deno.test("describeDocumentVersion() names the serial and the date, even a date out of range", () => {
  assert.equal(
    describeDocumentVersion({ serial: 7, issuedAt: NOW }),
    "serial 7 (issued 2025-05-01T00:00:00.000Z)",
  );
  assert.equal(
    describeDocumentVersion({ issuedAt: NOW }),
    "no serial (issued 2025-05-01T00:00:00.000Z)",
  );
  assert.equal(describeDocumentVersion({ issuedAt: 1e300 }), "no serial (issued 1e+300)");
});
