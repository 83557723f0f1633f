/**
 * Upload records (quotas, updates, take-over), held to one behaviour on every backend: registered from `storeConformanceTests` (`store_conformance.ts`), so SQLite and
 * PostgreSQL both run them.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ConformanceTest } from "./_conformance_fixtures.ts";
import type { UploadQuotas, UploadRecord } from "./upload_records.ts";

function upload(computerId: number, uploadId: string, size: number): UploadRecord {
  return {
    computerId,
    uploadId,
    declaredName: "file.txt",
    storedName: null,
    size,
    receivedBytes: 0,
    sha256: "0".repeat(64),
    chunkSize: 1024,
    chunkCount: 1,
    encrypted: false,
    kid: null,
    manifestDigest: "m",
    state: "receiving",
    error: null,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    completedAt: null,
    server: "server-a",
  };
}

/** Registers these tests with `test`. */
export function uploadRecordsConformanceTests(test: ConformanceTest): void {
  test("records uploads within quotas and updates them", async ({ uploads }) => {
    const quotas: UploadQuotas = {
      perComputerBytes: 100,
      totalBytes: 150,
      activeSince: 0,
      inProgressPerComputer: 2,
    };
    assert.equal(await uploads.createUpload(upload(1, "a", 60), quotas), "created");
    assert.equal(await uploads.createUpload(upload(1, "a", 60), quotas), "exists");
    // An upload in progress counts the bytes received, never the size it declared.
    assert.deepEqual(await uploads.usage(1, 0), { computerBytes: 0, totalBytes: 0, inProgress: 1 });
    await uploads.updateUpload(1, "a", { receivedBytes: 60 });
    assert.equal(await uploads.createUpload(upload(1, "b", 50), quotas), "computer-quota");
    assert.equal(await uploads.createUpload(upload(1, "b", 10), quotas), "created");
    assert.equal(await uploads.createUpload(upload(1, "c", 1), quotas), "too-many-in-progress");
    assert.equal(await uploads.createUpload(upload(2, "a", 91), quotas), "total-quota");
    assert.equal(await uploads.createUpload(upload(2, "a", 80), quotas), "created");
    assert.deepEqual(await uploads.usage(1, 0), {
      computerBytes: 60,
      totalBytes: 60,
      inProgress: 2,
    });
    // Uploads idle since before activeSince no longer count.
    assert.deepEqual(await uploads.usage(1, Number.MAX_SAFE_INTEGER), {
      computerBytes: 0,
      totalBytes: 0,
      inProgress: 0,
    });
    await uploads.updateUpload(1, "a", {
      state: "complete",
      storedName: "file.txt",
      completedAt: 5,
      updatedAt: 5,
    });
    await uploads.updateUpload(1, "b", { state: "failed", error: "ERR_X: broken" });
    await uploads.updateUpload(1, "b", {});
    const a = (await uploads.getUpload(1, "a"))!;
    assert.deepEqual(a, {
      ...upload(1, "a", 60),
      receivedBytes: 60,
      state: "complete",
      storedName: "file.txt",
      completedAt: 5,
      updatedAt: 5,
    });
    assert.equal((await uploads.getUpload(1, "b"))!.error, "ERR_X: broken");
    assert.equal(await uploads.getUpload(3, "a"), null);
    assert.deepEqual((await uploads.listUploads(1)).map((u) => u.uploadId), ["a", "b"]);
    assert.equal((await uploads.listUploads()).length, 3);
    assert.deepEqual(
      (await uploads.listUploadsIn("receiving")).map((u) => [u.computerId, u.uploadId]),
      [[2, "a"]],
    );
  });

  test("an upload still receiving can be taken over by another server; a finished one cannot", async ({ uploads }) => {
    const quotas: UploadQuotas = { perComputerBytes: 0, totalBytes: 0, activeSince: 0 };
    assert.equal(await uploads.createUpload(upload(1, "a", 10), quotas), "created");
    assert.equal(await uploads.createUpload(upload(1, "b", 10), quotas), "created");
    assert.equal(await uploads.takeOverUpload(1, "a", "server-b", 7), true);
    assert.deepEqual(await uploads.getUpload(1, "a"), {
      ...upload(1, "a", 10),
      server: "server-b",
      updatedAt: 7,
    });
    await uploads.updateUpload(1, "b", { state: "complete", completedAt: 8 });
    assert.equal(await uploads.takeOverUpload(1, "b", "server-b", 9), false);
    assert.equal((await uploads.getUpload(1, "b"))!.server, "server-a");
    assert.equal(await uploads.takeOverUpload(2, "none", "server-b", 9), false);
  });
}
