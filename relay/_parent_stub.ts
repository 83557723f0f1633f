/**
 * Test support: a parent (server) stand-in on 127.0.0.1 that records what it receives and
 * stores each report exactly once by computer id and sequence number, answering a resend with
 * 409 `ERR_DUPLICATE_REPORT` as the server does.
 *
 * @module
 */

import { readUpstreamMessage } from "../envelope/report_message.ts";
import { errorBody } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import { decodeReportBatch, type ReportBatchResult } from "../protocol/report_batch.ts";

/** How the stub answers. */
export type StubMode =
  /** Stores reports (201) and serves documents. */
  | "up"
  /** Answers 503 to everything. */
  | "down"
  /** Answers reports with 400 ERR_REPORT_INVALID. */
  | "reject";

/** A running parent stand-in. */
export class ParentStub {
  /** How it answers now; tests switch it. */
  mode: StubMode = "up";
  /** When true, the first copy of each report is stored but answered 503 (a lost ack). */
  loseFirstAck = false;
  /** Milliseconds to wait before answering a report. */
  reportDelayMs = 0;
  /** Whether it announces and takes report batches (`POST /api/v1/reports/batch`). */
  acceptsBatches = false;
  /** The number of envelopes in each batch received, in arrival order. */
  readonly batches: number[] = [];
  /** While set, a batch is answered only once it settles: a batch held in flight. */
  batchGate: Promise<void> | null = null;
  /** Bodies of every report POST, duplicates included, in arrival order. */
  readonly received: string[] = [];
  /** When each of {@linkcode ParentStub.received} arrived (`performance.now()`, milliseconds). */
  readonly receivedAt: number[] = [];
  /** Stored reports by `cid:seq`. */
  readonly stored = new Map<string, string>();
  /** `cid:seq` of every resend answered 409 `ERR_DUPLICATE_REPORT`, in arrival order. */
  readonly duplicatesAnswered: string[] = [];
  /** Bodies of the registrations received. */
  readonly registrations: string[] = [];
  /** The answer to registrations. */
  registrationAnswer: { status: number; body: string; headers?: Record<string, string> } = {
    status: 200,
    body: JSON.stringify({ computerId: 42 }),
  };
  /** Paths (with query) of the document requests received. */
  readonly documentRequests: string[] = [];
  /** Documents served by path and query; absent ones answer 404. */
  readonly documents = new Map<string, string>();
  /** Most report requests handled at once. */
  maxConcurrentReports = 0;
  #concurrentReports = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  /** Starts on 127.0.0.1 (`port` 0 picks a free one). */
  constructor(port = 0) {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      (request) => this.#handle(request),
    );
  }

  /** The stub's port. */
  get port(): number {
    return this.#server.addr.port;
  }

  /** The stub's base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Stops listening. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  /** Stops listening at the end of the scope that holds the stub (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.method === "POST" && url.pathname === API.reports) {
      this.#concurrentReports += 1;
      this.maxConcurrentReports = Math.max(this.maxConcurrentReports, this.#concurrentReports);
      try {
        return await this.#report(await request.text());
      } finally {
        this.#concurrentReports -= 1;
      }
    }
    if (request.method === "POST" && url.pathname === API.reportBatch && this.acceptsBatches) {
      const envelopes = decodeReportBatch(new Uint8Array(await request.arrayBuffer()));
      this.batches.push(envelopes.length);
      if (this.batchGate) await this.batchGate;
      if (this.mode === "down") return json(503, errorBody("ERR_RETRY_LATER", "Down for a test"));
      const results = [];
      for (const envelope of envelopes) {
        results.push(await this.#answer(new TextDecoder().decode(envelope)));
      }
      return json(200, { results });
    }
    if (this.mode === "down") return json(503, errorBody("ERR_RETRY_LATER", "Down for a test"));
    if (request.method === "GET" && url.pathname === API.capabilities) {
      return json(200, {
        role: "server",
        acceptsEncryptedReports: true,
        authenticating: false,
        decrypting: false,
        acceptsReportBatches: this.acceptsBatches,
        version: "stub",
      });
    }
    if (request.method === "POST" && url.pathname === API.register) {
      this.registrations.push(await request.text());
      return new Response(this.registrationAnswer.body, {
        status: this.registrationAnswer.status,
        headers: { "content-type": "application/json", ...this.registrationAnswer.headers },
      });
    }
    if (request.method === "GET") {
      const key = `${url.pathname}${url.search}`;
      this.documentRequests.push(key);
      const document = this.documents.get(key);
      if (document === undefined) return json(404, errorBody("ERR_NOT_FOUND", `No ${key}`));
      return new Response(document, { headers: { "content-type": "application/json" } });
    }
    return json(404, errorBody("ERR_NOT_FOUND", "Unknown path"));
  }

  async #report(body: string): Promise<Response> {
    if (this.reportDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, this.reportDelayMs));
    }
    const answer = await this.#answer(body);
    return json(answer.status, answer.body);
  }

  /** The answer to one report, alone or in a batch. */
  #answer(body: string): Promise<ReportBatchResult> {
    this.received.push(body);
    this.receivedAt.push(performance.now());
    const answer = (status: number, value: unknown) => Promise.resolve({ status, body: value });
    if (this.mode === "down") return answer(503, errorBody("ERR_RETRY_LATER", "Down for a test"));
    if (this.mode === "reject") {
      return answer(400, errorBody("ERR_REPORT_INVALID", "Refused for a test"));
    }
    const { claims } = readUpstreamMessage(JSON.parse(body));
    const key = `${claims.cid}:${claims.seq}`;
    if (this.stored.has(key)) {
      this.duplicatesAnswered.push(key);
      return answer(409, errorBody("ERR_DUPLICATE_REPORT", `Report ${key} is already stored`));
    }
    this.stored.set(key, body);
    if (this.loseFirstAck) {
      return answer(503, errorBody("ERR_RETRY_LATER", "Ack lost for a test"));
    }
    return answer(201, { status: "stored" });
  }
}

function json(status: number, value: unknown): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}
