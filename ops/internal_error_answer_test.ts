import assert from "node:assert/strict";
import { Hono } from "hono";
import { createLogger } from "../cli/log.ts";
import { runWithRequestId } from "../protocol/request_id.ts";
import { internalErrorAnswer } from "./internal_error_answer.ts";

/** An app whose one route fails, logging as JSON lines into `lines`. */
function failingApp(lines: string[]): Hono {
  const log = createLogger("test", "info", {
    format: "json",
    sink: { write: (line) => lines.push(line) },
  });
  const app = new Hono();
  app.onError((error, c) => internalErrorAnswer(c, error, log, "test request failed"));
  app.get("/fails", () => {
    throw new Error("secret cause");
  });
  return app;
}

Deno.test("internalErrorAnswer() answers 500 ERR_INTERNAL naming the logged request id, not the cause", async () => {
  const lines: string[] = [];
  const response = await failingApp(lines).request("/fails");
  assert.equal(response.status, 500);
  const body = await response.json();
  assert.equal(body.error.code, "ERR_INTERNAL");
  assert.ok(!body.error.message.includes("secret cause"));
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.level, "error");
  assert.equal(line.message, "test request failed");
  assert.equal(line.path, "/fails");
  assert.equal(line.cause, "secret cause");
  assert.equal(body.error.message, `Internal error; request id ${line.requestId}`);
});

Deno.test("internalErrorAnswer() uses the id of the request it runs in", async () => {
  const lines: string[] = [];
  const app = failingApp(lines);
  const response = await runWithRequestId("req-42", () => app.request("/fails"));
  const body = await response.json();
  assert.equal(body.error.message, "Internal error; request id req-42");
  assert.equal(JSON.parse(lines[0]).requestId, "req-42");
  const outside = await (await app.request("/fails")).json();
  assert.notEqual(outside.error.message, body.error.message);
});
