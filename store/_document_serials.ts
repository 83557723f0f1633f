/**
 * How both backends record a numbered document (`Store.recordDocument`): signing is asynchronous
 * and may take a while (a password prompt came before, an RSA signature may come), so no lock is
 * held across it. The serial is allocated optimistically: read the last one, sign with the next,
 * then record serial and document in one transaction only if nobody recorded one of this kind
 * meanwhile; else sign again with the newer serial.
 *
 * @module
 */

import type { NumberedDocumentName, RecordedDocument, SignNumberedDocument } from "./store.ts";

/** What a backend provides to {@linkcode recordWithNextSerial}. */
export interface DocumentSerialSteps {
  /** The last serial of the kind (0 when none was recorded). */
  lastSerial(): Promise<number>;
  /** The document of the kind as recorded now, or null. */
  current(): Promise<string | null>;
  /**
   * In one transaction: if the last serial is still `serial - 1`, records `serial` and
   * `document` (and whatever goes with it) and returns true; else changes nothing, returns false.
   */
  recordIfNext(serial: number, document: string): Promise<boolean>;
}

/**
 * Records a numbered document with the next serial of its kind.
 *
 * @throws {Error} When other sessions kept recording documents of the kind at the same time.
 */
export async function recordWithNextSerial(
  name: NumberedDocumentName,
  sign: SignNumberedDocument,
  steps: DocumentSerialSteps,
): Promise<RecordedDocument> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const serial = (await steps.lastSerial()) + 1;
    const document = await sign(serial, await steps.current());
    if (await steps.recordIfNext(serial, document)) return { serial, document };
  }
  throw new Error(
    `Cannot record ${name}: other sessions kept recording one at the same time; try again`,
  );
}
