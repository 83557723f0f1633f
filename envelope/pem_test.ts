import assert from "node:assert/strict";
import { KEY_INVALID } from "./_test_errors.ts";
import { decodePem, encodePem } from "./pem.ts";

Deno.test("encodePem() wraps DER at 64 characters and decodePem() reads it back", () => {
  for (const length of [0, 1, 47, 48, 49, 1217]) {
    const der = crypto.getRandomValues(new Uint8Array(length));
    const pem = encodePem("PRIVATE KEY", der);
    assert.ok(pem.startsWith("-----BEGIN PRIVATE KEY-----\n"));
    assert.ok(pem.endsWith("\n-----END PRIVATE KEY-----\n"));
    for (const line of pem.split("\n").slice(1, -2)) assert.ok(line.length <= 64);
    assert.deepEqual(decodePem("PRIVATE KEY", pem), der, `length ${length}`);
  }
});

Deno.test("decodePem() finds its block among comments and other blocks", () => {
  const der = new Uint8Array([1, 2, 3, 4, 5]);
  const text = [
    "# created: 2026-01-01T00:00:00Z",
    "# public key: abc",
    encodePem("PUBLIC KEY", new Uint8Array([9, 9])),
    encodePem("PRIVATE KEY", der).replaceAll("\n", "\r\n"),
    "trailing words",
  ].join("\n");
  assert.deepEqual(decodePem("PRIVATE KEY", text), der);
  assert.deepEqual(decodePem("PUBLIC KEY", text), new Uint8Array([9, 9]));
});

Deno.test("decodePem() refuses a missing block or bad base64 as ERR_KEY_INVALID", () => {
  const cases: [string, string][] = [
    ["no block", "nothing here"],
    ["another label", encodePem("PUBLIC KEY", new Uint8Array([1]))],
    ["no end line", "-----BEGIN PRIVATE KEY-----\nAQID\n"],
    ["base64url characters", "-----BEGIN PRIVATE KEY-----\n-_8_\n-----END PRIVATE KEY-----\n"],
    ["missing padding", "-----BEGIN PRIVATE KEY-----\nAQI\n-----END PRIVATE KEY-----\n"],
  ];
  for (const [what, text] of cases) {
    assert.throws(() => decodePem("PRIVATE KEY", text), KEY_INVALID, what);
  }
});
