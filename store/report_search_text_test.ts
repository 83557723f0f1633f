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

/**
 * The search text as its contract states it, written plainly (every value's control characters
 * replaced, lines joined, cut to the bound), against which the optimised searchTextOf is checked.
 */
function searchTextModel(report: unknown): string {
  if (typeof report !== "object" || report === null) return "";
  const values: string[] = [];
  const add = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(add);
    if (["string", "number", "boolean"].includes(typeof value)) values.push(String(value));
  };
  for (const section of ["properties", "custom"]) {
    const found = (report as Record<string, unknown>)[section];
    if (typeof found === "object" && found !== null && !Array.isArray(found)) {
      Object.values(found).forEach(add);
    }
  }
  // deno-lint-ignore no-control-regex -- control characters are what the text must not hold
  const text = values.map((value) => value.replace(/[\u0000-\u001f\u007f]/g, " ")).join("\n");
  if (text.length <= MAX_SEARCH_TEXT) return text;
  const cut = text.slice(0, MAX_SEARCH_TEXT);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;
}

Deno.test("searchTextOf() gives the text its contract states for any report, control characters and long values included", () => {
  const text = fc.string({ unit: "binary", maxLength: 300 });
  const value = fc.oneof(
    text,
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(text, { maxLength: 4 }),
    fc.dictionary(fc.string(), text, { maxKeys: 2 }),
  );
  const section = fc.dictionary(fc.string(), value, { maxKeys: 30 });
  fc.assert(fc.property(
    fc.oneof(
      fc.jsonValue(),
      fc.record({ properties: section, custom: section }),
      fc.record({ properties: fc.array(value), custom: section }),
      // Past the bound: the cut, inside a surrogate pair now and then.
      fc.record({
        properties: fc.dictionary(
          fc.string(),
          fc.string({ unit: "binary", minLength: 300, maxLength: 400 }),
          { minKeys: 15, maxKeys: 20 },
        ),
        custom: section,
      }),
    ),
    (report) => {
      assert.equal(searchTextOf(report), searchTextModel(report));
      assert.equal(
        reportSearchText(JSON.stringify(report)),
        searchTextOf(JSON.parse(JSON.stringify(report))),
      );
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
