import assert from "node:assert/strict";
import { Hono } from "hono";
import type { Logger } from "../cli/log.ts";
import { encodeBase64UrlText } from "../envelope/base64url.ts";
import { joinPath } from "../keystore/secure_file.ts";
import { errorBody, errorCodeOf } from "../protocol/http_error.ts";
import { MAX_REGISTRATION_BYTES, MAX_REPORT_MESSAGE_BYTES } from "../protocol/limits.ts";
import { API } from "../protocol/paths.ts";
import { encodeReportBatch, readReportBatchAnswer } from "../protocol/report_batch.ts";
import { VERSION } from "../protocol/version.ts";
import { freePort } from "../tests/run_role.ts";
import { ParentStub } from "./_parent_stub.ts";
import { createMessageFactory } from "./_test_utils.ts";
import { createRelayApp, type RelayAppOptions } from "./app.ts";
import { DocumentCache } from "./document_cache.ts";
import { ServerCertificate } from "./server_certificate.ts";
import { Spool } from "./spool.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const messages = await createMessageFactory();
const CLEAR = await messages.clear(21, 1);
const ENCRYPTED = await messages.encrypted(21, 2);

interface Relay {
  app: ReturnType<typeof createRelayApp>;
  spool: Spool;
  wakes: () => number;
  logged: string[];
}

/** An app over a real spool and document cache in a temporary data dir. */
async function withRelay(
  options: Partial<RelayAppOptions> & { parentUrl?: string },
  body: (relay: Relay) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-app-" });
  const parentUrl = options.parentUrl ?? `http://127.0.0.1:${freePort()}`;
  let wakes = 0;
  const logged: string[] = [];
  const record = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    logged.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const log: Logger = {
    debug: record("debug"),
    info: record("info"),
    warn: record("warn"),
    error: record("error"),
  };
  try {
    const spool = await Spool.open(dataDir);
    const documents = await DocumentCache.open({
      dir: joinPath(dataDir, "cache"),
      parentUrl,
      // No masthead pinned: certificates pass only as a parent's 404 or this relay's 503.
      certificate: new ServerCertificate({
        parentUrl,
        dataDir,
        siteKey: () => Promise.resolve(null),
        log,
      }),
    });
    const app = createRelayApp({
      spool,
      forwarder: { wake: () => void wakes++ },
      documents,
      acceptsEncryptedReports: true,
      log,
      ...options,
      parentUrl,
    });
    await body({ app, spool, wakes: () => wakes, logged });
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
}

function postReport(app: Relay["app"], body: BodyInit, headers: HeadersInit = {}) {
  return app.request(API.reports, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...headers },
  });
}

Deno.test("relay app answers its capabilities", async () => {
  await withRelay({}, async ({ app }) => {
    const response = await app.request(API.capabilities);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), {
      role: "relay",
      acceptsEncryptedReports: true,
      authenticating: false,
      decrypting: false,
      acceptsReportBatches: true,
      version: VERSION,
    });
  });
  await withRelay({ acceptsEncryptedReports: false }, async ({ app }) => {
    const body = await (await app.request(API.capabilities)).json();
    assert.equal(body.acceptsEncryptedReports, false);
  });
});

Deno.test("relay app spools the exact bytes of a clear and an encrypted report, then 202", async () => {
  await withRelay({}, async ({ app, spool, wakes }) => {
    const spaced = `  ${CLEAR}\n`;
    for (const body of [spaced, ENCRYPTED]) {
      const response = await postReport(app, body);
      assert.equal(response.status, 202);
      assert.deepEqual(await response.json(), { status: "accepted" });
    }
    const ids = spool.list();
    assert.equal(ids.length, 2);
    assert.equal(decoder.decode(await spool.read(ids[0])), spaced);
    assert.equal(decoder.decode(await spool.read(ids[1])), ENCRYPTED, "ciphertext as received");
    assert.equal(wakes(), 2);
  });
});

Deno.test("relay app refuses encrypted reports with 415 when told to, and takes clear ones", async () => {
  await withRelay({ acceptsEncryptedReports: false }, async ({ app, spool }) => {
    const refused = await postReport(app, ENCRYPTED);
    assert.equal(refused.status, 415);
    const body = await refused.json();
    assert.equal(body.error.code, "ERR_ENCRYPTION_NOT_SUPPORTED");
    assert.match(body.error.message, /^This relay does not accept encrypted reports; /);
    assert.equal(spool.count(), 0);
    assert.equal((await postReport(app, CLEAR)).status, 202);
    assert.equal(spool.count(), 1);
  });
});

Deno.test("relay app refuses malformed reports with 400 and the envelope's code", async () => {
  const clear = JSON.parse(CLEAR);
  const encrypted = JSON.parse(ENCRYPTED);
  const header = (value: unknown) => encodeBase64UrlText(JSON.stringify(value));
  const table: [string, BodyInit, string][] = [
    ["not JSON", "{not json", "ERR_ENVELOPE_MALFORMED"],
    ["empty body", "", "ERR_ENVELOPE_MALFORMED"],
    ["not UTF-8", new Uint8Array([0x22, 0xff, 0xfe, 0x22]), "ERR_ENVELOPE_MALFORMED"],
    ["a JSON array", "[]", "ERR_ENVELOPE_MALFORMED"],
    ["an empty object", "{}", "ERR_ENVELOPE_MALFORMED"],
    ["a string", '"hello"', "ERR_ENVELOPE_MALFORMED"],
    [
      "a JWS of another type",
      JSON.stringify({ ...clear, protected: header({ alg: "EdDSA", typ: "x", cid: 1, seq: 1 }) }),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "a clear report naming a key id",
      JSON.stringify({
        ...clear,
        protected: header({ alg: "EdDSA", typ: "mle-report", cid: 1, seq: 1, kid: "ab" }),
      }),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "a clear report with computer id 0",
      JSON.stringify({
        ...clear,
        protected: header({ alg: "EdDSA", typ: "mle-report", cid: 0, seq: 1, kid: null }),
      }),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "a JWE without sig",
      JSON.stringify({ ...encrypted, sig: undefined }),
      "ERR_ENVELOPE_MALFORMED",
    ],
    [
      "a JWE naming another algorithm",
      JSON.stringify({
        ...encrypted,
        protected: header({ alg: "RSA1_5", enc: "A256GCM", kid: "ab", cid: 1, seq: 1 }),
      }),
      "ERR_DECRYPTION_FAILED",
    ],
    [
      "a JWE with a garbled header",
      JSON.stringify({ ...encrypted, protected: "!!" }),
      "ERR_DECRYPTION_FAILED",
    ],
  ];
  await withRelay({}, async ({ app, spool }) => {
    for (const [name, body, code] of table) {
      const response = await postReport(app, body);
      assert.equal(response.status, 400, name);
      assert.equal((await response.json()).error.code, code, name);
    }
    assert.equal(spool.count(), 0, "nothing malformed was spooled");
  });
});

Deno.test("relay app refuses a report over the limit with 413, however its length is told", async () => {
  const padded = (size: number) => CLEAR + " ".repeat(size - CLEAR.length);
  const oversized = padded(MAX_REPORT_MESSAGE_BYTES + 1);
  const stream = (text: string) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        const bytes = new TextEncoder().encode(text);
        for (let i = 0; i < bytes.length; i += 64 * 1024) {
          controller.enqueue(bytes.subarray(i, i + 64 * 1024));
        }
        controller.close();
      },
    });
  await withRelay({}, async ({ app, spool }) => {
    const cases: [string, BodyInit, HeadersInit][] = [
      ["declared length", oversized, { "content-length": String(oversized.length) }],
      ["no declared length", stream(oversized), {}],
      ["a declared length that lies", oversized, { "content-length": "100" }],
      ["a declared length that is not a number", oversized, { "content-length": "abc" }],
    ];
    for (const [name, body, headers] of cases) {
      const response = await postReport(app, body, headers);
      assert.equal(response.status, 413, name);
      const error = (await response.json()).error;
      assert.equal(error.code, "ERR_TOO_LARGE", name);
      assert.match(error.message, new RegExp(`larger than ${MAX_REPORT_MESSAGE_BYTES} bytes`));
    }
    assert.equal(spool.count(), 0);
    const atLimit = await postReport(app, stream(padded(MAX_REPORT_MESSAGE_BYTES)));
    assert.equal(atLimit.status, 202, "exactly the limit is accepted");
  });
});

Deno.test("relay app answers unknown paths 404 and wrong methods 405, in JSON", async () => {
  await withRelay({}, async ({ app }) => {
    const missing = await app.request("/api/v1/nothing");
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "ERR_NOT_FOUND");
    const wrong = await app.request(API.reports);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "POST");
    assert.equal((await wrong.json()).error.code, "ERR_METHOD_NOT_ALLOWED");
    const post = await app.request(API.masthead, { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
  });
});

Deno.test("relay app passes documents down and serves the cache while the parent is down", async () => {
  const stub = new ParentStub();
  stub.documents.set(API.masthead, '{"masthead":true}');
  stub.documents.set(API.revocations, '{"revoked":[]}');
  stub.documents.set(`${API.settings}?computer=12`, '{"settings":12}');
  try {
    await withRelay({ parentUrl: stub.url }, async ({ app }) => {
      for (
        const [path, expected] of [
          [API.masthead, '{"masthead":true}'],
          [API.revocations, '{"revoked":[]}'],
          [`${API.settings}?computer=12`, '{"settings":12}'],
        ]
      ) {
        const response = await app.request(path);
        assert.equal(response.status, 200, path);
        assert.equal(response.headers.get("content-type"), "application/json");
        assert.equal(await response.text(), expected);
      }
      const none = await app.request(API.encryptionCertificate);
      assert.equal(none.status, 404);
      assert.equal((await none.json()).error.code, "ERR_NOT_FOUND");
      stub.mode = "down";
      const stale = await app.request(API.masthead);
      assert.equal(stale.status, 200);
      assert.equal(stale.headers.get("x-mle-relay-cache"), "stale");
      assert.equal(await stale.text(), '{"masthead":true}');
      const unreachable = await app.request(API.encryptionCertificate);
      assert.equal(unreachable.status, 503);
      assert.equal((await unreachable.json()).error.code, "ERR_PARENT_UNREACHABLE");
    });
  } finally {
    await stub.close();
  }
});

Deno.test("relay app checks the computer id of a settings request", async () => {
  await withRelay({}, async ({ app }) => {
    for (
      const query of [
        "",
        "?computer=",
        "?computer=0",
        "?computer=-3",
        "?computer=1.5",
        "?computer=abc",
        "?computer=99999999999999999",
      ]
    ) {
      const response = await app.request(`${API.settings}${query}`);
      assert.equal(response.status, 400, query);
      assert.equal((await response.json()).error.code, "ERR_BAD_REQUEST", query);
    }
  });
});

Deno.test("relay app forwards a registration and returns the parent's answer", async () => {
  const stub = new ParentStub();
  try {
    await withRelay({ parentUrl: stub.url }, async ({ app }) => {
      const registration = '{"protected":"abc","payload":"def","signature":"ghi"}';
      const ok = await app.request(API.register, { method: "POST", body: registration });
      assert.equal(ok.status, 200);
      assert.deepEqual(await ok.json(), { computerId: 42 });
      assert.deepEqual(stub.registrations, [registration]);

      stub.registrationAnswer = {
        status: 403,
        body: '{"error":{"code":"ERR_SIGNATURE_INVALID","message":"no"}}',
      };
      const refused = await app.request(API.register, { method: "POST", body: registration });
      assert.equal(refused.status, 403);
      assert.equal((await refused.json()).error.code, "ERR_SIGNATURE_INVALID");

      stub.registrationAnswer = { status: 200, body: "<html>" };
      const garbled = await app.request(API.register, { method: "POST", body: registration });
      assert.equal(garbled.status, 502);

      const large = await app.request(API.register, {
        method: "POST",
        body: "x".repeat(MAX_REGISTRATION_BYTES + 1),
      });
      assert.equal(large.status, 413);
      assert.equal((await large.json()).error.code, "ERR_TOO_LARGE");
      assert.equal(stub.registrations.length, 3, "the oversized one never reached the parent");
    });
  } finally {
    await stub.close();
  }
});

Deno.test("relay app passes on a busy parent's Retry-After with its 429 or 503 to a registration", async () => {
  const stub = new ParentStub();
  try {
    await withRelay({ parentUrl: stub.url }, async ({ app }) => {
      const registration = '{"protected":"abc","payload":"def","signature":"ghi"}';
      for (
        const [status, code, retryAfter] of [
          [429, "ERR_KEY_EXCHANGE_THROTTLED", "120"],
          [503, "ERR_SERVER_BUSY", "7"],
          [503, "ERR_SERVER_BUSY", "Wed, 21 Oct 2037 07:28:00 GMT"],
        ] as const
      ) {
        stub.registrationAnswer = {
          status,
          body: JSON.stringify({ error: { code, message: "busy" } }),
          headers: { "retry-after": retryAfter },
        };
        const busy = await app.request(API.register, { method: "POST", body: registration });
        assert.equal(busy.status, status);
        assert.equal(busy.headers.get("retry-after"), retryAfter);
        assert.equal((await busy.json()).error.code, code);
      }
      // What is not a delay or a date is not passed on.
      stub.registrationAnswer = {
        status: 429,
        body: JSON.stringify({ error: { code: "ERR_BUSY", message: "busy" } }),
        headers: { "retry-after": "-1" },
      };
      const garbled = await app.request(API.register, { method: "POST", body: registration });
      assert.equal(garbled.status, 429);
      assert.equal(garbled.headers.get("retry-after"), null);
      await garbled.body?.cancel();
    });
  } finally {
    await stub.close();
  }
});

Deno.test("relay app answers 503 to a registration when the parent does not answer", async () => {
  await withRelay({}, async ({ app }) => {
    const response = await app.request(API.register, { method: "POST", body: "{}" });
    assert.equal(response.status, 503);
    assert.equal((await response.json()).error.code, "ERR_PARENT_UNREACHABLE");
  });
});

Deno.test("relay app hides an unexpected failure's cause and logs it with a request id", async () => {
  const failing = {
    put: () => Promise.reject(new Error("disk on fire at /secret/path")),
    isFull: () => false,
  } as unknown as Spool;
  await withRelay({ spool: failing }, async ({ app, logged }) => {
    const response = await postReport(app, CLEAR);
    assert.equal(response.status, 500);
    const text = await response.text();
    assert.doesNotMatch(text, /fire|secret/);
    const { error } = JSON.parse(text);
    assert.equal(error.code, "ERR_INTERNAL");
    const requestId = response.headers.get("x-request-id");
    assert.ok(requestId && error.message.includes(requestId));
    const line = logged.find((entry) => entry.startsWith("error "));
    assert.ok(line?.includes(requestId) && line.includes("disk on fire"));
  });
});

Deno.test("relay app takes a child relay's batch: each envelope checked and spooled as if sent alone, in one group", async () => {
  const revoked = await messages.clear(22, 1);
  const revocations = {
    refusalFor: (cid: number) =>
      cid === 22
        ? { status: 403 as const, body: errorBody("ERR_COMPUTER_REVOKED", "Revoked for a test") }
        : null,
    answerFor: (answer: never) => Promise.resolve(answer),
  };
  await withRelay({ revocations }, async ({ app, spool, wakes }) => {
    const envelopes = [CLEAR, ENCRYPTED, revoked, '{"protected":'].map((text) =>
      encoder.encode(text)
    );
    const response = await app.request(API.reportBatch, {
      method: "POST",
      body: encodeReportBatch(envelopes),
    });
    assert.equal(response.status, 200);
    const results = readReportBatchAnswer(await response.json(), 4);
    assert.deepEqual(results.map((result) => result.status), [202, 202, 403, 400]);
    assert.equal(errorCodeOf(results[2].body), "ERR_COMPUTER_REVOKED");
    assert.equal(errorCodeOf(results[3].body), "ERR_ENVELOPE_MALFORMED");
    const ids = spool.list();
    assert.deepEqual(
      await Promise.all(ids.map(async (id) => decoder.decode(await spool.read(id)))),
      [CLEAR, ENCRYPTED],
      "the exact bytes of the accepted envelopes, in order",
    );
    assert.equal(spool.groupsCommitted, 1, "the batch's envelopes shared one write and fsync");
    assert.ok(wakes() >= 1);

    const malformed = await app.request(API.reportBatch, {
      method: "POST",
      body: encodeReportBatch(envelopes).subarray(0, 20),
    });
    assert.equal(malformed.status, 400);
    assert.equal((await malformed.json()).error.code, "ERR_BATCH_MALFORMED");
    assert.equal(spool.count(), 2, "nothing of a malformed batch was spooled");
  });
});

Deno.test("relay app answers a batch 503 ERR_SPOOL_FULL per envelope past a sender's share, and whole when full", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "mle-relay-app-batch-" });
  try {
    const one = encoder.encode(await messages.clear(23, 1));
    const spool = await Spool.open(dataDir, {
      maxBytes: one.length * 3,
      maxBytesPerComputer: one.length * 2,
    });
    const app = createRelayApp({
      spool,
      forwarder: { wake: () => {} },
      documents: { get: () => Promise.reject(new Error("not used")) },
      parentUrl: `http://127.0.0.1:${freePort()}`,
      acceptsEncryptedReports: true,
    });
    const envelopes = await Promise.all(
      [1, 2, 3].map(async (seq) => encoder.encode(await messages.clear(23, seq))),
    );
    const response = await app.request(API.reportBatch, {
      method: "POST",
      body: encodeReportBatch(envelopes),
    });
    const results = readReportBatchAnswer(await response.json(), 3);
    assert.deepEqual(results.map((result) => result.status), [202, 202, 503]);
    assert.equal(errorCodeOf(results[2].body), "ERR_SPOOL_FULL");
    await spool.put(encoder.encode(await messages.clear(24, 1)), 24);
    const full = await app.request(API.reportBatch, {
      method: "POST",
      body: encodeReportBatch([encoder.encode(await messages.clear(25, 1))]),
    });
    assert.equal(full.status, 503);
    assert.equal(full.headers.get("retry-after"), "60");
    assert.equal((await full.json()).error.code, "ERR_SPOOL_FULL");
    await spool.close();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("relay app answers a failure of its mounted upload routes: a full disk with 503, anything else with 500", async () => {
  const uploads = new Hono();
  uploads.post("/", () => {
    throw Object.assign(new Error("write failed at /secret/uploads"), { code: "ENOSPC" });
  });
  uploads.get("/", () => {
    throw new Error("disk on fire at /secret/uploads");
  });
  await withRelay({ uploads }, async ({ app, logged }) => {
    const full = await app.request(API.uploads, { method: "POST", body: "{}" });
    assert.equal(full.status, 503);
    assert.ok(Number(full.headers.get("retry-after")) > 0);
    assert.equal((await full.json()).error.code, "ERR_STORAGE_FULL");
    const failed = await app.request(API.uploads);
    assert.equal(failed.status, 500);
    const text = await failed.text();
    assert.doesNotMatch(text, /fire|secret/);
    assert.equal(JSON.parse(text).error.code, "ERR_INTERNAL");
    assert.ok(logged.some((line) => line.startsWith("error ") && line.includes("disk on fire")));
  });
});
