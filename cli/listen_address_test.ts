import assert from "node:assert/strict";
import { parseListenAddress } from "./listen_address.ts";

Deno.test("parseListenAddress() reads HOST:PORT, :PORT, PORT and [IPv6]:PORT", () => {
  const cases: Array<[string, { hostname: string; port: number }]> = [
    ["127.0.0.1:8080", { hostname: "127.0.0.1", port: 8080 }],
    [":9100", { hostname: "0.0.0.0", port: 9100 }],
    ["9100", { hostname: "0.0.0.0", port: 9100 }],
    ["[::1]:0", { hostname: "::1", port: 0 }],
    ["localhost", { hostname: "localhost", port: 52311 }],
    ["ops.example-1.internal:52312", { hostname: "ops.example-1.internal", port: 52312 }],
  ];
  for (const [value, expected] of cases) assert.deepEqual(parseListenAddress(value), expected);
});

Deno.test("parseListenAddress() refuses a bad host or port with a RangeError naming the value", () => {
  const cases: Array<[string, RegExp]> = [
    ["not an address", /"not an address" is not a host name or IP address/],
    ["host/path:80", /not a host name or IP address/],
    ["[::1;]:80", /not a host name or IP address/],
    ["127.0.0.1:65536", /port must be 0 to 65535/],
    ["127.0.0.1:port", /expected HOST:PORT/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseListenAddress(value), (error) => {
      assert.ok(error instanceof RangeError, value);
      assert.match(error.message, message, value);
      return true;
    });
  }
});
