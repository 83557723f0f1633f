/**
 * `npm run fuzz:http`: fuzzed HTTP against real processes on 127.0.0.1. It records real traffic
 * through `tests/recording_proxy.ts`: a client registering, reporting encrypted and uploading a file
 * through a relay; that relay's report batches and forwarded uploads to the server; a decrypting
 * relay's bundles, its record of the keys it holds and its signed requests for clients' keys.
 * Then it sends mutations of those requests, raw over TCP, to both relays and to the server: bit flips, cuts, splices of two requests, bodies swapped between paths,
 * changed methods, paths, content types and lengths (some lying). Every request must get an
 * answer that is not 5xx, except a body shorter than its declared length, which may be left
 * waiting; neither process may crash; and afterwards a real report must still be stored.
 *
 * Usage: deno run --allow-all scripts/fuzz_http.ts [--requests N] [--seed S] [--minutes M]
 *   --requests N   mutated requests to send, 0 to 10000000 (default 100000)
 *   --seed S       the seed of the mutations, 0 to 4294967295 (default: from the clock)
 *   --minutes M    at most this long, 0 to 1440 (default 30)
 *
 * The last line is JSON: requests, statuses by class, no-answer counts, crashes, and whether a
 * real report was stored after. Exit code 0 when no 5xx, no unanswered honest request, no crash
 * and the report was stored; 1 otherwise.
 *
 * @module
 */

import { readInteger } from "../cli/flags.ts";
import {
  allowRelay,
  clientConnectionArgs,
  clientReport,
  computerIdOf,
  copyKeysByUsb,
  createSite,
  freePort,
  generateKey,
  RecordingProxy,
  startRelay,
  startServer,
  waitForStored,
} from "../tests/deployment.ts";
import { runRole } from "../tests/run_role.ts";
import { readScriptOptions } from "./script_flags.ts";
import { seededRandom } from "./seeded_random.ts";

const { requestCount, seed, minutes } = readScriptOptions(Deno.args, {
  tool: "fuzz_http",
  flags: {
    requests: { type: "string" },
    seed: { type: "string" },
    minutes: { type: "string" },
  },
  read: (values) => ({
    requestCount: readInteger("requests", values.requests, 100_000, { min: 0, max: 10_000_000 }),
    seed: readInteger("seed", values.seed, Date.now() % 1_000_000, { min: 0, max: 2 ** 32 - 1 }),
    minutes: readInteger("minutes", values.minutes, 30, { min: 0, max: 1440, unit: "minutes" }),
  }),
});

/** One recorded request. */
interface RecordedRequest {
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: Uint8Array;
}

/** What a mutated request is, and whether it lies about its length (no answer is then fair). */
interface Mutant {
  bytes: Uint8Array;
  lyingLength: boolean;
}

const encoder = new TextEncoder();
const REQUEST_LINE = /(POST|PUT|GET) (\/api\/v1\/[^ \r\n]*) HTTP\/1\.1\r\n/g;

/** The requests found in a recording proxy's latin1 text (responses are skipped). */
function requestsIn(text: string): RecordedRequest[] {
  const found: RecordedRequest[] = [];
  for (const match of text.matchAll(REQUEST_LINE)) {
    const headEnd = text.indexOf("\r\n\r\n", match.index);
    if (headEnd < 0) continue;
    const headers = text.slice(match.index + match[0].length, headEnd).split("\r\n")
      .map((line) => line.split(/:\s*/, 2) as [string, string]);
    const length = Number(headers.find(([name]) => name.toLowerCase() === "content-length")?.[1]);
    const start = headEnd + 4;
    const body = Uint8Array.from(
      text.slice(start, start + (Number.isFinite(length) ? length : 0)),
      (c) => c.charCodeAt(0),
    );
    found.push({ method: match[1], path: match[2], headers, body });
  }
  return found;
}

const PATHS = [
  "/api/v1/reports",
  "/api/v1/reports/batch",
  "/api/v1/relays/record/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  "/api/v1/register",
  "/api/v1/bundles",
  "/api/v1/uploads",
  "/api/v1/uploads/1/00000000000000000000000000000000/0",
  "/api/v1/capabilities",
  "/api/v1/key-exchange",
  "/api/v1/computers/1",
  "/api/v1/settings?computer=1",
  "/api/v1/%00",
  "/api/v1/uploads/../../etc/passwd",
];
const CONTENT_TYPES = ["application/json", "text/plain", "application/octet-stream", "", "x"];

/** Mutates one recorded request (or a splice of two) into raw bytes. */
function mutate(requests: RecordedRequest[], random: () => number): Mutant {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const base = pick(requests);
  let method = base.method;
  let path = base.path;
  let body: Uint8Array = base.body.slice();
  let contentType = base.headers.find(([n]) => n.toLowerCase() === "content-type")?.[1] ??
    "application/json";
  const operations = 1 + Math.floor(random() * 3);
  for (let i = 0; i < operations; i++) {
    switch (Math.floor(random() * 9)) {
      case 0: // flip bits
        for (let n = 1 + Math.floor(random() * 8); n > 0 && body.length > 0; n--) {
          body[Math.floor(random() * body.length)] ^= 1 << Math.floor(random() * 8);
        }
        break;
      case 1: // cut
        body = body.slice(0, Math.floor(random() * body.length));
        break;
      case 2: { // splice with another request's body
        const other = pick(requests).body;
        const at = Math.floor(random() * body.length);
        body = concat(body.slice(0, at), other.slice(Math.floor(random() * other.length)));
        break;
      }
      case 3: // the body of one path to another
        path = pick(PATHS);
        break;
      case 4:
        method = pick(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
        break;
      case 5:
        contentType = pick(CONTENT_TYPES);
        break;
      case 6: { // replace a JSON string value with something hostile
        const text = new TextDecoder().decode(body);
        const hostile = pick([
          '""',
          "null",
          "1e309",
          "-1",
          '"\\u0000"',
          "[]",
          "{}",
          "9".repeat(40),
        ]);
        body = encoder.encode(text.replace(/"[^"]{1,64}"(?=[,}])/, hostile));
        break;
      }
      case 7: // repeat a slice (grows the body)
        body = concat(body, body.slice(0, Math.floor(random() * 4096)));
        break;
      default: // random bytes
        body = crypto.getRandomValues(new Uint8Array(Math.floor(random() * 2048)));
    }
  }
  // Lengths: mostly honest, sometimes a lie in either direction, sometimes absent or malformed.
  const roll = random();
  let lengthHeader = `content-length: ${body.length}\r\n`;
  let lyingLength = false;
  if (roll < 0.03) {
    lengthHeader = `content-length: ${body.length + 1 + Math.floor(random() * 1000)}\r\n`;
    lyingLength = true;
  } else if (roll < 0.05) {
    lengthHeader = `content-length: ${Math.max(0, body.length - 10)}\r\n`;
  } else if (roll < 0.06) lengthHeader = `content-length: -1\r\n`;
  else if (roll < 0.07) lengthHeader = `content-length: 99999999999999999999\r\n`;
  const head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
    (contentType ? `content-type: ${contentType}\r\n` : "") + lengthHeader +
    "connection: close\r\n\r\n";
  // A malformed or absent length may leave a server waiting for a body: fair, as a lie.
  if (roll >= 0.05 && roll < 0.07) lyingLength = true;
  return { bytes: concat(encoder.encode(head), body), lyingLength };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const all = new Uint8Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  return all;
}

/** Sends raw bytes and reads the status code of the answer, or null when none came in time. */
async function send(port: number, bytes: Uint8Array, timeoutMs: number): Promise<number | null> {
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return null;
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    try {
      await conn.write(bytes);
    } catch {
      // the server may answer (413) and close before reading everything
    }
    const buffer = new Uint8Array(64);
    let read = 0;
    while (read < 12) {
      const n = await conn.read(buffer.subarray(read));
      if (n === null) break;
      read += n;
    }
    const status = /^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buffer.subarray(0, read)));
    return status ? Number(status[1]) : null;
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

async function alive(process: { child: Deno.ChildProcess }): Promise<boolean> {
  const ended = await Promise.race([
    process.child.status.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 10)),
  ]);
  return !ended;
}

async function main(): Promise<number> {
  const began = Date.now();
  const deadline = began + minutes * 60_000;
  const random = seededRandom(seed);
  const site = await createSite();
  await generateKey(site, true);
  const server = await startServer(site);
  const relayPort = freePort();
  // Relay → server traffic is recorded too: report batches and forwarded uploads.
  const upstream = new RecordingProxy(site.serverPort);
  const relay = await startRelay(`${site.root}/relay`, relayPort, upstream.port);
  // A decrypting relay, allowed: bundles, its record of its keys, signed requests for clients' keys.
  const decryptingDir = `${site.root}/decrypting-relay`;
  await copyKeysByUsb(site, decryptingDir);
  const decryptingUpstream = new RecordingProxy(site.serverPort);
  const decryptingPort = freePort();
  const decrypting = await startRelay(decryptingDir, decryptingPort, decryptingUpstream.port, [
    "--decrypt",
    "--bundle-wait-ms",
    "100",
  ]);
  await allowRelay(site, decrypting);
  const proxy = new RecordingProxy(relayPort);
  const clientDir = `${site.root}/client`;
  const connection = [
    ...clientConnectionArgs(site, clientDir, proxy.port),
    "--encryption",
    "required",
  ];
  // Real traffic: registration, encrypted reports, an upload of a small file in chunks.
  for (let i = 0; i < 3; i++) {
    const report = await runRole("client", ["report", ...connection]);
    if (report.code !== 0) throw new Error(`client report failed: ${report.stderr}`);
  }
  const file = `${site.root}/upload.bin`;
  await Deno.writeFile(file, crypto.getRandomValues(new Uint8Array(40_000)));
  await runRole("client", ["upload", file, "--wait", "--timeout", "60", ...connection]);
  for (let i = 0; i < 2; i++) {
    const bundled = await clientReport(site, `${site.root}/client-bundled`, decryptingPort, [
      "--encryption",
      "required",
    ]);
    if (bundled.code !== 0) throw new Error(`client report failed: ${bundled.stderr}`);
  }
  await decrypting.waitFor("bundle delivered");
  await decrypting.waitFor("recorded at the server with the keys it holds");
  const recorded = [proxy, upstream, decryptingUpstream]
    .flatMap((recording) => requestsIn(recording.text))
    .filter((r) => r.method !== "GET" || r.path.startsWith("/api/v1/computers/"));
  await proxy.close();
  const paths = new Set(recorded.map((r) => `${r.method} ${r.path.replace(/\/\d+.*$/, "/…")}`));
  console.error(`fuzz_http: ${recorded.length} recorded requests: ${[...paths].join(", ")}`);

  const classes: Record<string, number> = { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 };
  const fiveHundreds: string[] = [];
  let noAnswer = 0;
  let noAnswerLying = 0;
  let sent = 0;
  const targets = [relayPort, decryptingPort, site.serverPort];
  const lane = async () => {
    while (sent < requestCount && Date.now() < deadline) {
      sent++;
      const mutant = mutate(recorded, random);
      const port = targets[Math.floor(random() * targets.length)];
      const status = await send(port, mutant.bytes, mutant.lyingLength ? 2_000 : 20_000);
      if (status === null) {
        if (mutant.lyingLength) noAnswerLying++;
        else {
          noAnswer++;
          if (noAnswer <= 5) {
            console.error(
              `fuzz_http: no answer: ${new TextDecoder().decode(mutant.bytes.slice(0, 200))}`,
            );
          }
        }
        continue;
      }
      const key = `${Math.floor(status / 100)}xx`;
      classes[key] = (classes[key] ?? 0) + 1;
      if (status >= 500 && fiveHundreds.length < 5) {
        fiveHundreds.push(`${status} ${new TextDecoder().decode(mutant.bytes.slice(0, 160))}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  for (const line of fiveHundreds) console.error(`fuzz_http: 5xx after: ${line}`);

  const crashes = [await alive(server), await alive(relay), await alive(decrypting)]
    .filter((up) => !up).length;
  // The system still works: a real client's report goes through the relay and is stored.
  let storedAfter = false;
  if (crashes === 0) {
    const after = `${site.root}/client-after`;
    const report = await clientReport(site, after, relayPort, ["--encryption", "required"]);
    if (report.code === 0) {
      await waitForStored(site, await computerIdOf(after), 1).then(() => storedAfter = true)
        .catch(() => {});
    }
  }
  await decrypting.stop();
  await relay.stop();
  await upstream.close();
  await decryptingUpstream.close();
  await server.stop();
  const result = {
    requests: sent,
    statuses: classes,
    no_answer: noAnswer,
    no_answer_lying_length: noAnswerLying,
    crashes,
    real_report_stored_after: storedAfter,
    seed,
    seconds: Math.round((Date.now() - began) / 1000),
  };
  const ok = classes["5xx"] === 0 && noAnswer === 0 && crashes === 0 && storedAfter;
  if (ok) await Deno.remove(site.root, { recursive: true });
  console.log(JSON.stringify(result));
  return ok ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
