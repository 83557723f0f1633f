import assert from "node:assert/strict";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { ParentList } from "../protocol/parent_list.ts";
import { API } from "../protocol/paths.ts";
import { eventually } from "../tests/eventually.ts";
import { freePort } from "../tests/run_role.ts";
import { ParentStub } from "./_parent_stub.ts";
import { Upstream } from "./upstream.ts";

const MASTHEAD = '{"protected":"e30","payload":"e30","signature":"c2ln"}';

function upstreamOf(parents: string[]): Upstream {
  return new Upstream(
    new ParentList({ parents, minRetryMs: 50, maxRetryMs: 100, random: () => 0 }),
  );
}

Deno.test("Upstream asks the next parent when the first does not answer, and the first again once it does", async () => {
  const firstPort = await freePort();
  const second = new ParentStub();
  second.documents.set(API.masthead, MASTHEAD);
  const first = `http://127.0.0.1:${firstPort}`;
  const upstream = upstreamOf([first, second.url]);
  try {
    const moved = await upstream.fetchJson(API.masthead, { maxBytes: 4096, timeoutMs: 2_000 });
    assert.equal(moved.status, 200);
    assert.equal(moved.parent, second.url);
    assert.equal(upstream.parents.inUse, second.url);

    const back = new ParentStub(firstPort);
    back.documents.set(API.masthead, MASTHEAD);
    try {
      // Once its back-off is over, the first is asked first again and, answering, is in use.
      await eventually(async () => {
        const answer = await upstream.fetchJson(API.masthead, { maxBytes: 4096 });
        return answer.parent === first ? true : undefined;
      }, "the first parent asked and used again");
      assert.equal(upstream.parents.inUse, first);
      assert.equal(back.documentRequests.includes(API.masthead), true);
    } finally {
      await back.close();
    }
  } finally {
    await second.close();
  }
});

Deno.test("Upstream moves past a parent answering 503 and gives the last 503 when every parent fails", async () => {
  const busy = new ParentStub();
  const alsoBusy = new ParentStub();
  busy.mode = "down";
  alsoBusy.mode = "down";
  const upstream = upstreamOf([busy.url, alsoBusy.url]);
  try {
    const answer = await upstream.fetchJson(API.masthead, { maxBytes: 4096 });
    assert.equal(answer.status, 503);
    assert.equal(answer.parent, alsoBusy.url);
    assert.equal(upstream.parents.state.health[busy.url].failures, 1);
    assert.equal(upstream.parents.state.health[alsoBusy.url].failures, 1);
  } finally {
    await busy.close();
    await alsoBusy.close();
  }
});

Deno.test("Upstream throws ParentUnreachableError when no parent answers", async () => {
  const upstream = upstreamOf([
    `http://127.0.0.1:${await freePort()}`,
    `http://127.0.0.1:${await freePort()}`,
  ]);
  await assert.rejects(
    upstream.fetchJson(API.masthead, { maxBytes: 4096, timeoutMs: 2_000 }),
    ParentUnreachableError,
  );
});

Deno.test("Upstream.of() wraps one parent URL and returns an upstream as is", () => {
  const upstream = Upstream.of("http://server.example:52311/");
  assert.deepEqual(upstream.parents.parents, ["http://server.example:52311"]);
  assert.equal(Upstream.of(upstream), upstream);
  assert.throws(() => Upstream.of("ftp://server.example"), RangeError);
});
