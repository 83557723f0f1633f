import assert from "node:assert/strict";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { API } from "../protocol/paths.ts";
import { ParentCapabilities } from "./parent_capabilities.ts";

/** A parent on 127.0.0.1 answering its capabilities as told, counting the questions. */
function parent(capabilities: () => Response) {
  let asked = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    if (new URL(request.url).pathname !== API.capabilities) {
      return new Response("not found", { status: 404 });
    }
    asked++;
    return capabilities();
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    asked: () => asked,
    close: () => server.shutdown(),
  };
}

Deno.test("ParentCapabilities knows an authenticating relay, and asks again only after a minute", async () => {
  let now = 0;
  let authenticating = true;
  const stub = parent(() => Response.json({ role: "relay", authenticating }));
  try {
    const capabilities = new ParentCapabilities(stub.url, () => now);
    assert.equal(await capabilities.authenticating(), true);
    authenticating = false;
    now += 59_000;
    assert.equal(await capabilities.authenticating(), true, "cached for a minute");
    assert.equal(stub.asked(), 1);
    now += 1_000;
    assert.equal(await capabilities.authenticating(), false);
    assert.equal(stub.asked(), 2);
  } finally {
    await stub.close();
  }
});

Deno.test("ParentCapabilities says no for a server, a plain relay, a bad answer or no answer", async () => {
  for (
    const answer of [
      () => Response.json({ role: "server", authenticating: true }),
      () => Response.json({ role: "relay", authenticating: false }),
      () => Response.json({ error: "x" }, { status: 500 }),
      () => new Response("not json"),
    ]
  ) {
    const stub = parent(answer);
    try {
      assert.equal(await new ParentCapabilities(stub.url).authenticating(), false);
    } finally {
      await stub.close();
    }
  }
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const nobody = new ParentCapabilities(`http://127.0.0.1:${port}`);
  assert.equal(await nobody.authenticating(), false);
  // For the forwarder, no parent at all is not "one by one": a report would not get there either.
  await assert.rejects(nobody.acceptsReportBatches(), ParentUnreachableError);
});
