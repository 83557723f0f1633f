/**
 * Test support: an upload driven by the test itself, chunk by chunk, signed in clear with a
 * {@linkcode TestSender}'s key exactly as a client signs one, so that a test decides when each
 * manifest and chunk is sent (to fill a disk between two chunks, say) and sees every answer.
 *
 * @module
 */

import { signClearChunk } from "../envelope/upload_chunk.ts";
import { signUploadManifest } from "../envelope/upload_manifest.ts";
import { API } from "../protocol/paths.ts";
import {
  chunkCountOf,
  newUploadId,
  type UploadManifest,
  type UploadStatus,
} from "../protocol/upload.ts";
import { readUploadStatus } from "../protocol/upload_status.ts";
import type { TestSender } from "./deployment.ts";

/** An answer to one upload request: status, `Retry-After`, error code and JSON body. */
export interface UploadRequestAnswer {
  status: number;
  retryAfter: string | null;
  code: string | null;
  body: Record<string, unknown> | null;
}

/** One file being uploaded by a test through the role at `port`. */
export interface SignedUpload {
  uid: string;
  chunkCount: number;
  sha256: string;
  /** Posts the signed manifest. */
  postManifest(): Promise<UploadRequestAnswer>;
  /** Puts chunk `index`. */
  putChunk(index: number): Promise<UploadRequestAnswer>;
  /**
   * The upload's status as the role at `port` (or `otherPort`) sees it, or null when it did not
   * answer one.
   */
  status(otherPort?: number): Promise<UploadStatus | null>;
}

/** The manifest a client writes for `bytes` sent as upload `uid` of computer `cid`, created now. */
export async function uploadManifestOf(
  bytes: Uint8Array<ArrayBuffer>,
  options: { uid: string; cid: number; name: string; chunkSize: number },
): Promise<UploadManifest> {
  const { uid, cid, name, chunkSize } = options;
  return {
    v: 1,
    uid,
    cid,
    name,
    size: bytes.length,
    sha256: new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)).toHex(),
    chunkSize,
    chunkCount: chunkCountOf(bytes.length, chunkSize),
    createdAt: new Date().toISOString(),
  };
}

/**
 * An upload of `bytes` in chunks of `chunkSize` by `sender` through the role (server or relay)
 * listening on `port`, named `name`.
 */
export async function signedUpload(
  port: number,
  sender: TestSender,
  bytes: Uint8Array<ArrayBuffer>,
  options: { chunkSize: number; name: string },
): Promise<SignedUpload> {
  const { chunkSize } = options;
  const cid = sender.computerId;
  const uid = newUploadId();
  const manifest = await uploadManifestOf(bytes, { uid, cid, name: options.name, chunkSize });
  const { chunkCount, sha256 } = manifest;
  const base = `http://127.0.0.1:${port}${API.uploads}`;
  return {
    uid,
    chunkCount,
    sha256,
    postManifest: async () => {
      const message = await signUploadManifest(
        sender.privateKey,
        { cid, uid, cs: chunkSize, cc: chunkCount },
        new TextEncoder().encode(JSON.stringify(manifest)),
      );
      return answerOf(
        await fetch(base, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(message),
        }),
      );
    },
    putChunk: async (index) => {
      const plaintext = bytes.slice(index * chunkSize, (index + 1) * chunkSize);
      const final = index === chunkCount - 1;
      const body = await signClearChunk(sender.privateKey, { cid, uid, index, final }, plaintext);
      return answerOf(await fetch(`${base}/${cid}/${uid}/${index}`, { method: "PUT", body }));
    },
    status: async (otherPort = port) => {
      const url = `http://127.0.0.1:${otherPort}${API.uploads}/${cid}/${uid}`;
      const answer = await answerOf(await fetch(url));
      return answer.status === 200 ? readUploadStatus(answer.body) : null;
    },
  };
}

/** The chunk indexes a status lists as missing. */
export function missingChunks(status: UploadStatus): number[] {
  return status.missing.flatMap(([start, end]) =>
    Array.from({ length: end - start }, (_, i) => start + i)
  );
}

async function answerOf(response: Response): Promise<UploadRequestAnswer> {
  const body = await response.json().catch(() => null) as Record<string, unknown> | null;
  const error = body?.error as { code?: unknown } | undefined;
  return {
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    code: typeof error?.code === "string" ? error.code : null,
    body,
  };
}
