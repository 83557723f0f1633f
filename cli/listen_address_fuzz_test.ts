import assert from "node:assert/strict";
import { anyText, errorOf, fc, fuzzParser } from "../tests/fuzz.ts";
import { parseListenAddress } from "./listen_address.ts";

Deno.test("fuzz: parseListenAddress() gives a host and a port from 0 to 65535, or a RangeError", async () => {
  const host = fc.oneof(
    fc.constantFrom("", "0.0.0.0", "127.0.0.1", "[::1]", "[", "]", "::"),
    anyText,
  );
  const port = fc.oneof(fc.constant(""), fc.integer({ min: -1, max: 70000 }).map(String), anyText);
  const texts = fc.oneof(
    anyText,
    fc.tuple(host, fc.constantFrom(":", "", "::"), port).map(([h, colon, p]) => h + colon + p),
  );
  await fuzzParser("parseListenAddress", texts, (text) => {
    const { hostname, port } = parseListenAddress(text);
    assert.ok(Number.isInteger(port) && port >= 0 && port <= 65535);
    assert.ok(hostname.length > 0);
  }, errorOf(RangeError));
});
