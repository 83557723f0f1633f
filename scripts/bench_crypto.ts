/**
 * `npm run bench:crypto`: the raw speed of the primitives on the report path on this machine,
 * Web Crypto and node:crypto side by side, so that `npm run bench` can be read against the ceiling.
 *
 * Every measurement runs for a bounded time and a bounded count. Web Crypto is measured both one
 * call at a time (each call is a round trip to a worker thread and back) and with several calls
 * in flight (what a server with many clients sees); node:crypto's calls are synchronous.
 *
 * Usage: deno run --allow-all scripts/bench_crypto.ts [--seconds S] [--json-only]
 *
 * @module
 */

import * as nodeCrypto from "node:crypto";
import { Buffer } from "node:buffer";
import { readNumber } from "../cli/flags.ts";
import { readScriptOptions } from "./script_flags.ts";

const { SECONDS, jsonOnly } = readScriptOptions(Deno.args, {
  tool: "bench_crypto",
  flags: {
    seconds: { type: "string" },
    "json-only": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  },
  read: (values) => ({
    SECONDS: readNumber("seconds", values.seconds, 0.6, { min: 0.001, max: 30, unit: "seconds" }),
    jsonOnly: values["json-only"] === true,
  }),
  usage: `Usage: deno run --allow-all scripts/bench_crypto.ts [--seconds S] [--json-only]

Measures RSA-OAEP-256 unwrap (2048/4096), AES-256-GCM (MB/s and 1 KiB messages/s), Ed25519
verify and sign, SHA-256 of 1 KiB: Web Crypto (sequential and concurrent) and node:crypto.
Prints a table, then one JSON object as the last line.

"event loop µs/op" is the CPU the calling thread spent per operation (Linux): Web Crypto does the
work on a thread pool, node:crypto on the calling thread.

Options:
  --seconds S   time per measurement, 0.001 to 30 (default 0.6)
  --json-only   print only the JSON line
  -h, --help    show this help

Exit codes:
  0  measured
  2  misuse of the command line`,
});
const MAX_COUNT = 5_000_000;
const CONCURRENCY = 8;

/** CPU seconds this process's main (calling) thread ran so far (schedstat: ns); NaN without it. */
function mainThreadCpu(): number {
  try {
    const schedstat = Deno.readTextFileSync(`/proc/${Deno.pid}/task/${Deno.pid}/schedstat`);
    return Number(schedstat.split(" ")[0]) / 1e9;
  } catch {
    return NaN;
  }
}

/** CPU the calling thread spent per operation in the last {@linkcode rate} run, in µs. */
let lastMainThreadMicros = NaN;

/** Runs `op` until the time or count bound; returns operations per second. */
async function rate(op: () => Promise<unknown> | unknown, concurrency = 1): Promise<number> {
  for (let i = 0; i < 3; i++) await op(); // warm up
  const deadline = performance.now() + SECONDS * 1000;
  const start = performance.now();
  const cpuBefore = mainThreadCpu();
  let count = 0;
  const lane = async () => {
    while (performance.now() < deadline && count < MAX_COUNT) {
      await op();
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  lastMainThreadMicros = ((mainThreadCpu() - cpuBefore) / count) * 1e6;
  return count / ((performance.now() - start) / 1000);
}

const rows: Array<[string, string, number, string, number]> = [];
const json: Record<string, number> = {};
function record(what: string, how: string, value: number, unit: string, key: string): void {
  rows.push([what, how, value, unit, lastMainThreadMicros]);
  json[key] = Math.round(value * 10) / 10;
  json[`${key}_event_loop_us`] = Math.round(lastMainThreadMicros * 10) / 10;
}

/** One operation done both ways, to be measured side by side. */
interface Contenders {
  web: () => Promise<unknown>;
  node: () => unknown;
  /** Whether to measure Web Crypto with {@linkcode CONCURRENCY} operations in flight too. */
  webConcurrently?: boolean;
  /** What each operation is worth in `unit` (default 1, in ops/s). */
  scale?: number;
  unit?: string;
}

/**
 * Records `what` through Web Crypto (alone, then concurrently if asked) and through node:crypto,
 * as `<key>_web`, `<key>_web_concurrent` and `<key>_node`.
 */
async function compare(what: string, key: string, contenders: Contenders): Promise<void> {
  const { web, node, scale = 1, unit = "ops/s" } = contenders;
  record(what, "Web Crypto", (await rate(web)) * scale, unit, `${key}_web`);
  if (contenders.webConcurrently) {
    const concurrent = (await rate(web, CONCURRENCY)) * scale;
    record(what, `Web Crypto x${CONCURRENCY}`, concurrent, unit, `${key}_web_concurrent`);
  }
  record(what, "node:crypto", (await rate(node)) * scale, unit, `${key}_node`);
}

// RSA-OAEP-256 unwrap of a 32-byte content key.
for (const bits of [2048, 4096] as const) {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      hash: "SHA-256",
      modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]),
    },
    true,
    ["encrypt", "decrypt"],
  ) as CryptoKeyPair;
  const cek = crypto.getRandomValues(new Uint8Array(32));
  const wrapped = new Uint8Array(await crypto.subtle.encrypt("RSA-OAEP", pair.publicKey, cek));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const nodeKey = nodeCrypto.createPrivateKey({
    key: Buffer.from(pkcs8),
    format: "der",
    type: "pkcs8",
  });
  const nodeUnwrap = () =>
    nodeCrypto.privateDecrypt({
      key: nodeKey,
      padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: "sha256",
    }, wrapped);
  if (!Buffer.from(nodeUnwrap()).equals(Buffer.from(cek))) throw new Error("node unwrap differs");
  await compare(`RSA-OAEP-256 unwrap ${bits}`, `rsa${bits}`, {
    web: () => crypto.subtle.decrypt("RSA-OAEP", pair.privateKey, wrapped),
    node: nodeUnwrap,
    webConcurrently: true,
  });
}

// AES-256-GCM.
{
  const raw = crypto.getRandomValues(new Uint8Array(32));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  const nodeKey = nodeCrypto.createSecretKey(raw);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aad = new TextEncoder().encode("eyJhbGciOiJSU0EtT0FFUC0yNTYifQ");
  // 1 KiB: a report; 16 KiB: past where node:crypto stops being the cheaper (envelope/aes_gcm.ts).
  const sizes: [number, string, string][] = [
    [1024, "1 KiB", "aes_gcm_1k"],
    [16384, "16 KiB", "aes_gcm_16k"],
    [1024 * 1024, "1 MiB", "aes_gcm_mb_per_s"],
  ];
  for (const [size, label, tag] of sizes) {
    const plaintext = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
    const message = new Uint8Array(size);
    for (let i = 0; i < size; i += plaintext.length) {
      message.set(plaintext.subarray(0, size - i), i);
    }
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, key, message),
    );
    const webOpen = () =>
      crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad }, key, sealed);
    const nodeOpen = () => {
      const decipher = nodeCrypto.createDecipheriv("aes-256-gcm", nodeKey, iv);
      decipher.setAAD(aad);
      decipher.setAuthTag(sealed.subarray(sealed.length - 16));
      decipher.update(sealed.subarray(0, sealed.length - 16));
      decipher.final();
    };
    await compare(`AES-256-GCM open ${label}`, tag, {
      web: webOpen,
      node: nodeOpen,
      webConcurrently: size === 1024,
      scale: size < 1e6 ? 1 : size / 1e6,
      unit: size < 1e6 ? "ops/s" : "MB/s",
    });
  }
}

// Ed25519 over about 1.4 KiB (a signed report's size).
{
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const data = crypto.getRandomValues(new Uint8Array(1400));
  const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", pair.privateKey, data));
  const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const nodePublic = nodeCrypto.createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: publicRaw.toBase64({ alphabet: "base64url" }) },
    format: "jwk",
  });
  const nodePrivate = nodeCrypto.createPrivateKey({
    key: Buffer.from(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
    format: "der",
    type: "pkcs8",
  });
  await compare("Ed25519 verify 1.4 KiB", "ed25519_verify", {
    web: () => crypto.subtle.verify("Ed25519", pair.publicKey, signature, data),
    node: () => nodeCrypto.verify(null, data, nodePublic, signature),
    webConcurrently: true,
  });
  await compare("Ed25519 sign 1.4 KiB", "ed25519_sign", {
    web: () => crypto.subtle.sign("Ed25519", pair.privateKey, data),
    node: () => nodeCrypto.sign(null, data, nodePrivate),
  });
}

// SHA-256 of 1 KiB (the stored report's digest).
{
  const data = crypto.getRandomValues(new Uint8Array(1024));
  await compare("SHA-256 1 KiB", "sha256_1k", {
    web: () => crypto.subtle.digest("SHA-256", data),
    node: () => nodeCrypto.createHash("sha256").update(data).digest(),
  });
}

if (!jsonOnly) {
  console.log(
    `Deno ${Deno.version.deno} (V8 ${Deno.version.v8}), ${Deno.build.target}, ` +
      `${navigator.hardwareConcurrency} logical CPUs; ${SECONDS} s per measurement\n`,
  );
  const width = Math.max(...rows.map(([what]) => what.length));
  const how = Math.max(...rows.map(([, h]) => h.length));
  console.log(
    `${"operation".padEnd(width)}  ${"with".padEnd(how)}  ${"rate".padStart(17)}  event loop µs/op`,
  );
  for (const [what, h, value, unit, micros] of rows) {
    const shown = value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
    const cpu = Number.isFinite(micros) ? micros.toFixed(1) : "-";
    console.log(
      `${what.padEnd(width)}  ${h.padEnd(how)}  ${shown.padStart(11)} ${unit.padEnd(5)}  ${
        cpu.padStart(16)
      }`,
    );
  }
}
console.log(JSON.stringify(json));
