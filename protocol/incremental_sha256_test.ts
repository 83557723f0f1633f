import assert from "node:assert/strict";
import { createSha256 } from "./incremental_sha256.ts";

Deno.test("createSha256() gives exactly crypto.subtle.digest's result, however the bytes are split", async () => {
  for (const size of [0, 1, 63, 64, 65, 1000, 131_072, 300_001]) {
    const data = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
    const bytes = new Uint8Array(size);
    for (let i = 0; i < size; i += data.length) bytes.set(data.subarray(0, size - i), i);
    const expected = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex();
    const whole = createSha256();
    whole.update(bytes);
    assert.equal(whole.digestHex(), expected, `size ${size}, one piece`);
    const pieces = createSha256();
    let offset = 0;
    for (let step = 1; offset < size; step = (step * 7 + 3) % 9000 + 1) {
      pieces.update(bytes.subarray(offset, offset + step));
      offset += step;
    }
    assert.equal(pieces.digestHex(), expected, `size ${size}, many pieces`);
  }
});
