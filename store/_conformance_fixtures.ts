/**
 * What the store conformance suites share (`store_conformance.ts` and the suites it registers):
 * the fixture each backend opens, the test registrar, and a report and a computer to test with.
 *
 * @module
 */

import type { NewReport, Store } from "./store.ts";
import type { UploadRecords } from "./upload_records.ts";
import { KID_A } from "../envelope/_test_key_ids.ts";

/** A fresh, empty database opened by a backend. */
export interface StoreFixture {
  store: Store;
  uploads: UploadRecords;
  /** Another store on the same database (another server or admin session). */
  openAnother(): Promise<Store>;
  /** Closes what the fixture opened and drops the database. */
  cleanup(): Promise<void>;
}

/** Registers one conformance test against a fresh database. */
export type ConformanceTest = (
  name: string,
  body: (fixture: StoreFixture) => Promise<void>,
) => void;

/** Key ids reports are sealed to in the suites. */

/** A report of `computerId` numbered `seq`. */
export function report(computerId: number, seq: number, body = `{"seq":${seq}}`): NewReport {
  return {
    computerId,
    seq,
    receivedAt: 1_700_000_000_000 + seq,
    encrypted: true,
    kid: KID_A,
    body,
    digest: `digest of ${body}`,
    encryptionLevel: "required",
  };
}

/** Registers a computer with only a public key; gives its id. */
export async function newComputerId(store: Store, publicKey: string): Promise<number> {
  return (await store.registerComputer({
    publicKey,
    hostIdentity: null,
    hostname: null,
    registeredAt: 1,
  })).id;
}
