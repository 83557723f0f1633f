/**
 * The thread behind {@linkcode BatchWriter} when it commits off the event loop: it opens its own
 * connection to the data dir's store and runs `storeReports` for each batch it is sent.
 *
 * The module is statically imported by `batch_writer.ts`, so it is part of every build of the
 * server (`deno compile` embeds only what the entry imports); it starts its loop only when it
 * runs as the worker named {@linkcode REPORT_WRITER_WORKER_NAME}.
 *
 * @module
 */

import { openStore } from "../store/mod.ts";
import type { NewReport, Store, StoreOutcome } from "../store/store.ts";

/** The name the batch writer gives its worker; the loop below runs only under it. */
export const REPORT_WRITER_WORKER_NAME = "mle-report-writer";

/** What the event loop sends. */
export type WriterRequest =
  | { type: "open"; dataDir: string }
  | { type: "store"; id: number; reports: NewReport[] }
  | { type: "close" };

/** What the worker answers. */
export type WriterAnswer =
  | { type: "opened" }
  | { type: "stored"; id: number; outcomes: StoreOutcome[] }
  | { type: "failed"; id: number | null; message: string }
  | { type: "closed" };

interface WorkerScope {
  name?: string;
  onmessage: ((event: MessageEvent<WriterRequest>) => void) | null;
  postMessage(answer: WriterAnswer): void;
  close(): void;
}

function runWorker(scope: WorkerScope): void {
  let store: Store | null = null;
  scope.onmessage = (event) => {
    const request = event.data;
    try {
      switch (request.type) {
        case "open":
          store = openStore(request.dataDir);
          scope.postMessage({ type: "opened" });
          return;
        case "store": {
          if (!store) throw new Error("Cannot store reports: the writer's store is not open");
          // SqliteStore works synchronously; its promise is already settled.
          store.storeReports(request.reports).then(
            (outcomes) => scope.postMessage({ type: "stored", id: request.id, outcomes }),
            (error) =>
              scope.postMessage({ type: "failed", id: request.id, message: String(error) }),
          );
          return;
        }
        case "close":
          store?.close();
          store = null;
          scope.postMessage({ type: "closed" });
          scope.close();
          return;
      }
    } catch (error) {
      scope.postMessage({
        type: "failed",
        id: request.type === "store" ? request.id : null,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  };
}

const scope = globalThis as unknown as WorkerScope;
if (scope.name === REPORT_WRITER_WORKER_NAME && typeof scope.postMessage === "function") {
  runWorker(scope);
}
