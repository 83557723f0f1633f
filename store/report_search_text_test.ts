import assert from "node:assert/strict";
import fc from "fast-check";
import {
  MAX_SEARCH_TEXT,
  reportSearchText,
  searchTextFor,
  searchTextOf,
} from "./report_search_text.ts";

Deno.test("reportSearchText() keeps property and custom values, one a line", () => {
  const body = JSON.stringify({
    computerId: 7,
    properties: {
      os: "Debian 12",
      cores: 4,
      virtual: false,
      ips: ["10.0.0.1", "10.0.0.2"],
      x: null,
    },
    custom: { AssetTag: "TAG-1" },
    relevance: [{ id: "secret-fixlet", relevant: true }],
  });
  assert.equal(reportSearchText(body), "Debian 12\n4\nfalse\n10.0.0.1\n10.0.0.2\nTAG-1");
});

Deno.test("reportSearchText() gives nothing for a body that is not a report object", () => {
  for (const body of ["", "not json", "null", "[1,2]", '"text"', '{"properties":[1]}']) {
    assert.equal(reportSearchText(body), "", body);
  }
});

Deno.test("reportSearchText() replaces control characters (a NUL cannot be PostgreSQL text)", () => {
  const body = JSON.stringify({ properties: { a: "x\u0000y\tz" }, custom: {} });
  assert.equal(reportSearchText(body), "x y z");
});

Deno.test("reportSearchText() is bounded and never cuts a surrogate pair", () => {
  const many = Object.fromEntries(
    Array.from({ length: 500 }, (_, i) => [`p${i}`, "v".repeat(40)]),
  );
  assert.equal(
    reportSearchText(JSON.stringify({ properties: many, custom: {} })).length,
    MAX_SEARCH_TEXT,
  );
  const emoji = JSON.stringify({
    properties: { a: "a" + "😀".repeat(MAX_SEARCH_TEXT) },
    custom: {},
  });
  const text = reportSearchText(emoji);
  assert.equal(text.length, MAX_SEARCH_TEXT - 1);
  assert.ok(!/[\ud800-\udbff]$/.test(text));
});

Deno.test("searchTextOf() of the parsed report is reportSearchText() of its body, for any JSON", () => {
  const sections = fc.dictionary(fc.string(), fc.jsonValue());
  fc.assert(fc.property(
    fc.oneof(fc.jsonValue(), fc.record({ properties: sections, custom: sections })),
    (value) => {
      const body = JSON.stringify(value);
      assert.equal(searchTextOf(JSON.parse(body)), reportSearchText(body));
    },
  ));
});

Deno.test("searchTextFor() takes the text the server read, else reads the body", () => {
  const report = {
    computerId: 1,
    seq: 1,
    receivedAt: 0,
    encrypted: false,
    kid: null,
    body: JSON.stringify({ properties: { os: "macOS" }, custom: {} }),
    digest: "d",
    encryptionLevel: null,
  };
  assert.equal(searchTextFor(report), "macOS");
  assert.equal(searchTextFor({ ...report, searchText: "given" }), "given");
});
