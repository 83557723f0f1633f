import assert from "node:assert/strict";
import { bundlesInFlight, waitForBundleInFlight, waitForChunkWrite } from "./soak_moments.ts";

Deno.test("a bundle is in flight between the relay's 'sending bundle' and 'bundle delivered'", async () => {
  const log = "info sending bundle bundle=a\ninfo bundle delivered bundle=a\n";
  assert.equal(bundlesInFlight(log), 0);
  assert.equal(bundlesInFlight(log + "info sending bundle bundle=b\n"), 1);
  assert.equal(await waitForBundleInFlight(() => log, 20), false);
  assert.equal(await waitForBundleInFlight(() => log + "info sending bundle b\n", 20), true);
});

Deno.test("a chunk write is seen as the partial upload file growing, and missed when it does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mle-soak-moments-" });
  try {
    assert.equal(await waitForChunkWrite(dir, 30), false, "no upload at all");
    const part = `${dir}/uploads/.incoming/1-${"0".repeat(32)}`;
    await Deno.mkdir(part, { recursive: true });
    await Deno.writeFile(`${part}/data.part`, new Uint8Array(10));
    assert.equal(await waitForChunkWrite(dir, 30), false, "a file that does not grow");
    // The file grows until it is seen growing, however late the watch takes its first look.
    let seen = false;
    const growing = waitForChunkWrite(dir, 5_000).finally(() => seen = true);
    for (let size = 20; !seen; size += 10) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      await Deno.writeFile(`${part}/data.part`, new Uint8Array(size));
    }
    assert.equal(await growing, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
