/**
 * Test support for the relay's upload tests: one upload (computer 4's, three chunks of 1 KiB)
 * and a parent on 127.0.0.1 standing in for the server, which takes its manifest and answers its
 * chunks as the test says.
 *
 * @module
 */

import { errorBody } from "../protocol/http_error.ts";
import { API } from "../protocol/paths.ts";
import type { WireErrorCode } from "../protocol/wire_error_codes.ts";

/** The upload's id. */
export const UPLOAD_ID = "00112233445566778899aabbccddeeff";

/** The claims of the upload's manifest: computer 4, chunks of 1 KiB, three of them, in clear. */
export const UPLOAD_CLAIMS = { cid: 4, uid: UPLOAD_ID, cs: 1024, cc: 3, kid: null };

/** A clear chunk that is not the last: the chunk size and the signature. */
export const FULL_CHUNK_BYTES = 1024 + 64;

/** A JSON answer with `status`. */
export function jsonAnswer(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The server's answer to a stored chunk, once it holds `received` of them. */
export function storedChunk(received: number, state = "receiving") {
  return { result: "stored", uploadId: UPLOAD_ID, computerId: 4, state, received, chunkCount: 3 };
}

/**
 * A chunk answer that refuses the first `times` chunks with `status` and the error `code`, then
 * stores each as the stub does by default.
 */
export function refuseFirstChunks(
  times: number,
  status: number,
  code: WireErrorCode,
  message: string,
): (index: number) => Response {
  let left = times;
  return (index) =>
    left-- > 0
      ? jsonAnswer(status, errorBody(code, message))
      : jsonAnswer(200, storedChunk(index + 1));
}

/** The upload's status while nothing of it was received. */
export const RECEIVING_STATUS = {
  uploadId: UPLOAD_ID,
  computerId: 4,
  state: "receiving",
  chunkCount: 3,
  received: 0,
  stored: 0,
  missing: [[0, 3]],
  missingTruncated: false,
  error: null,
};

/**
 * A parent on 127.0.0.1 that takes the upload's manifest, answers its status, and answers its
 * chunks as the test says; closed at the end of the scope that holds it (`await using`).
 */
export class UploadParentStub {
  /** Chunk `PUT`s received: index and body. */
  readonly chunks: Array<{ index: number; body: Uint8Array }> = [];
  manifests = 0;
  /** The answer to a chunk. */
  answerChunk: (index: number) => Response | Promise<Response> = (index) =>
    jsonAnswer(200, storedChunk(index + 1));
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #closed: Promise<void> | null = null;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => this.#handle(request),
    );
  }

  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Stops answering (idempotent). */
  close(): Promise<void> {
    return this.#closed ??= this.#server.shutdown();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    const body = new Uint8Array(await request.arrayBuffer());
    if (request.method === "POST" && path === API.uploads) {
      this.manifests++;
      return jsonAnswer(200, RECEIVING_STATUS);
    }
    if (request.method === "GET" && path === `${API.uploads}/4/${UPLOAD_ID}`) {
      return jsonAnswer(200, RECEIVING_STATUS);
    }
    const chunk = new RegExp(`^${API.uploads}/4/${UPLOAD_ID}/(\\d+)$`).exec(path);
    if (request.method === "PUT" && chunk) {
      const index = Number(chunk[1]);
      this.chunks.push({ index, body });
      return this.answerChunk(index);
    }
    return jsonAnswer(404, errorBody("ERR_NOT_FOUND", "Unknown path"));
  }
}
