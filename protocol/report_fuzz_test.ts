import assert from "node:assert/strict";
import { anyJson, documentBodies, fc, fuzzParser, noError } from "../tests/fuzz.ts";
import { checkReport } from "./report.ts";

const REPORT = {
  computerId: 7,
  seq: 1,
  createdAt: "2024-01-01T00:00:00.000Z",
  properties: { hostname: "a" },
  custom: { site: "x" },
  relevance: [],
  actionStatuses: [],
  analyses: [],
};

Deno.test("fuzz: checkReport() answers null or a reason for any decoded report, and never throws", async () => {
  await fuzzParser("checkReport", fc.oneof(documentBodies(REPORT), anyJson), (value) => {
    const problem = checkReport(value, 7, 1);
    if (problem === null) assert.equal((value as typeof REPORT).computerId, 7);
    else assert.equal(typeof problem, "string");
  }, noError);
});
