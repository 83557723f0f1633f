import assert from "node:assert/strict";
import { runWithRequestId } from "../protocol/request_id.ts";
import { createLogger } from "./log.ts";

function capture(format: "text" | "json", level: "debug" | "info" = "info") {
  const lines: string[] = [];
  const log = createLogger("mle-test", level, {
    format,
    sink: { write: (line) => lines.push(line) },
    now: () => new Date("2026-11-23T12:00:00.000Z"),
  });
  return { log, lines };
}

Deno.test("createLogger() writes text lines with key=value fields, quoting what needs it, at or above its level", () => {
  const { log, lines } = capture("text");
  log.debug("not written");
  log.info("report stored", { cid: 12, seq: 4, reason: "a b=c" });
  assert.deepEqual(lines, [
    '2026-11-23T12:00:00.000Z info mle-test report stored cid=12 seq=4 reason="a b=c"',
  ]);
});

Deno.test("createLogger() writes one JSON object a line with time, level, tool, message and fields", () => {
  const { log, lines } = capture("json", "debug");
  log.debug("cycle delivered", { queued: 0, nested: { a: 1 } });
  assert.deepEqual(JSON.parse(lines[0]), {
    time: "2026-11-23T12:00:00.000Z",
    level: "debug",
    tool: "mle-test",
    message: "cycle delivered",
    queued: 0,
    nested: { a: 1 },
  });
});

Deno.test("createLogger() names the current request id on every line written while it is handled", async () => {
  const { log, lines } = capture("json");
  await runWithRequestId("req-42", async () => {
    await Promise.resolve();
    log.info("inside");
  });
  log.info("outside");
  assert.equal(JSON.parse(lines[0]).requestId, "req-42");
  assert.equal(JSON.parse(lines[1]).requestId, undefined);
});

Deno.test("createLogger() redacts fields named as secrets and any text holding a PEM private key", () => {
  const { log, lines } = capture("json");
  const pem = "-----BEGIN PRIVATE KEY-----\nMIIE…\n-----END PRIVATE KEY-----";
  log.info("checked", {
    password: "hunter2",
    relayPassword: "hunter3",
    secret: "s",
    privateKey: "k",
    contentKey: "c",
    token: "t",
    body: "report body",
    cause: `cannot import ${pem}`,
    error: new Error(pem),
    detail: { nested: pem },
    cid: 7,
  });
  log.info(`message with ${pem}`);
  const first = JSON.parse(lines[0]);
  for (
    const field of [
      "password",
      "relayPassword",
      "secret",
      "privateKey",
      "contentKey",
      "token",
      "body",
      "cause",
      "error",
      "detail",
    ]
  ) {
    assert.equal(first[field], "[redacted]", field);
  }
  assert.equal(first.cid, 7);
  assert.equal(JSON.parse(lines[1]).message, "[redacted]");
  assert.ok(!lines.join("\n").includes("hunter"));
});
