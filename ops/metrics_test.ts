import assert from "node:assert/strict";
import { Hono } from "hono";
import { answerMetrics, countedFrom, createMetricsRegistry, Registry } from "./metrics.ts";

Deno.test("answerMetrics() counts answers by route, status and a well-formed error code only", async () => {
  const registry = new Registry();
  const app = new Hono();
  app.use(answerMetrics(registry));
  app.post("/api/v1/reports", (c) => {
    const code = c.req.query("code")!;
    return c.json({ error: { code, message: "no" } }, 400);
  });
  app.get("/api/v1/uploads/:cid/:uid", (c) => c.json({ ok: true }));
  await app.request("/api/v1/reports?code=ERR_REPORT_INVALID", { method: "POST" });
  await app.request("/api/v1/reports?code=ERR_REPORT_INVALID", { method: "POST" });
  await app.request(`/api/v1/reports?code=${encodeURIComponent('x"} 1\nforged')}`, {
    method: "POST",
  });
  await app.request("/api/v1/uploads/1/abc");
  await app.request("/anything/else");
  const text = await registry.metrics();
  assert.match(
    text,
    /mle_http_requests_total\{route="reports",status="400",code="ERR_REPORT_INVALID"\} 2/,
  );
  assert.match(text, /mle_http_requests_total\{route="reports",status="400",code="none"\} 1/);
  assert.match(text, /mle_http_requests_total\{route="uploads",status="200",code="none"\} 1/);
  assert.match(text, /mle_http_requests_total\{route="other",status="404",code="none"\} 1/);
  assert.ok(!text.includes("forged"));
});

Deno.test("countedFrom() turns a component's running totals into a counter, per label set", async () => {
  const registry = new Registry();
  let delivered = 3;
  countedFrom(registry, "things_total", "things", () => [[{ outcome: "delivered" }, delivered]], [
    "outcome",
  ]);
  assert.match(await registry.metrics(), /mle_things_total\{outcome="delivered"\} 3/);
  delivered = 5;
  assert.match(await registry.metrics(), /mle_things_total\{outcome="delivered"\} 5/);
});

Deno.test("createMetricsRegistry() holds the process's memory, event-loop lag and build info", async () => {
  const { registry, close } = createMetricsRegistry("relay", "9.9.9");
  try {
    const text = await registry.metrics();
    assert.match(text, /^mle_process_resident_memory_bytes \d+$/m);
    assert.match(text, /^mle_event_loop_lag_seconds [\d.e-]+$/m);
    assert.match(text, /^mle_build_info\{role="relay",version="9.9.9"\} 1$/m);
  } finally {
    close();
  }
});
