/**
 * Group commit: reports that arrive in the same turn of the event loop are stored in one
 * transaction (one fsync), and each request is answered only after its report is committed.
 *
 * @module
 */

import type { NewReport, Store, StoreOutcome } from "../store/store.ts";

interface Pending {
  report: NewReport;
  resolve: (outcome: StoreOutcome) => void;
  reject: (error: unknown) => void;
}

/** Batches `storeReports` calls. */
export class BatchWriter {
  readonly #store: Store;
  readonly #maxBatch: number;
  #pending: Pending[] = [];
  #scheduled = false;

  constructor(store: Store, maxBatch = 512) {
    this.#store = store;
    this.#maxBatch = maxBatch;
  }

  /** Stores one report with the next batch; resolves once it is committed. */
  write(report: NewReport): Promise<StoreOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ report, resolve, reject });
      if (this.#pending.length >= this.#maxBatch) {
        this.#flush();
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        setTimeout(() => this.#flush(), 0);
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    this.#store.storeReports(batch.map((p) => p.report)).then(
      (outcomes) => batch.forEach((p, i) => p.resolve(outcomes[i])),
      (error) => batch.forEach((p) => p.reject(error)),
    );
  }
}
