import assert from "node:assert/strict";
import { API, OPS_PATHS } from "../protocol/paths.ts";
import { openTestServer } from "./_test_server.ts";

Deno.test("createOpsApp() serves the counters and /healthz; the server app no longer serves the counters", async () => {
  const { dir, store, app, ops } = await openTestServer("mle-ops-test-");
  try {
    const metrics = await ops.request(OPS_PATHS.metrics);
    assert.equal(metrics.status, 200);
    const body = await metrics.json();
    assert.equal(body.rsaPrivateOps, 0);
    assert.equal(body.keysLoaded, 1, "the fixture's current key");
    assert.equal(body.reportsStored, 0);
    assert.equal(body.bundlesOpened, 0);
    assert.equal(typeof body.rssBytes, "number");

    const health = await ops.request(OPS_PATHS.health);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: "ok" });

    for (const path of [API.metrics, OPS_PATHS.health]) {
      const refused = await app.request(path);
      assert.equal(refused.status, 404, path);
      assert.equal((await refused.json()).error.code, "ERR_NOT_FOUND", path);
    }
    const elsewhere = await ops.request(API.capabilities);
    assert.equal(elsewhere.status, 404);
    assert.match(
      (await elsewhere.json()).error.message,
      /serves GET \/metrics, GET \/healthz, GET \/readyz, GET \/api\/v1\/metrics/,
    );
    const posted = await ops.request(OPS_PATHS.metrics, { method: "POST", body: "{}" });
    assert.equal(posted.status, 404);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createOpsApp() serves Prometheus /metrics and a /readyz that says the server is ready", async () => {
  const { dir, store, ops } = await openTestServer("mle-ops-test-");
  try {
    const metrics = await ops.request(OPS_PATHS.prometheus);
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    for (
      const name of [
        "mle_rsa_private_operations_total 0",
        'mle_reports_stored_total{encryption="encrypted"} 0',
        'mle_content_key_lookups_total{source="memo",result="hit"} 0',
        "mle_keys_loaded 1",
        "# TYPE mle_commit_duration_seconds histogram",
      ]
    ) assert.ok(text.includes(name), `${name} in\n${text}`);

    const ready = await ops.request(OPS_PATHS.ready);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: "ready" });
    store.close();
    const closed = await ops.request(OPS_PATHS.ready);
    assert.equal(closed.status, 503, "the store no longer answers");
    const body = await closed.json();
    assert.equal(body.status, "not ready");
    assert.match(body.reasons[0], /^the store cannot be read: /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
