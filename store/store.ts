/**
 * The server's storage interface. SQLite (`sqlite_store.ts`) is the embedded default; another
 * backend (PostgreSQL, for several servers sharing one database) implements the same interface.
 * The admin tool opens the same store to record its signed decisions.
 *
 * @module
 */

import type { ServerRecord } from "./server_records.ts";
import type { DecryptingRelayRecord } from "./relay_records.ts";

/** A registered computer. */
export interface ComputerRecord {
  id: number;
  /** Raw Ed25519 public key, base64url: the computer's only credential. */
  publicKey: string;
  hostIdentity: string | null;
  hostname: string | null;
  registeredAt: number;
  lastReportAt: number | null;
  /** Key id the computer last reported with, or null for clear text. */
  lastKid: string | null;
  /** The encryption level the computer last said it wants. */
  encryptionLevel: string | null;
  revokedAt: number | null;
  /** The newer computer this one handed over to (key rotation with hand-over). */
  replacedBy: number | null;
  /**
   * The last sequence number the old key spent before its hand-over (0 when none, or when the
   * hand-over did not say): the id's reports up to it are still accepted once it is replaced,
   * as they were made before the rotation (e.g. spooled at a relay); later ones never.
   */
  handoverLastSeq: number;
  /** The newer registration of the same machine, when no hand-over linked them. */
  duplicateOf: number | null;
  /** Why the operator should confirm this entry (e.g. registered after a compromise), or null. */
  flagged: string | null;
  /**
   * The computer this one says it replaces after a compromised-key rotation: a claim, never acted
   * on until the operator confirms this entry (`mle-admin computers confirm`), or null.
   */
  claimsToReplace: number | null;
  /**
   * The claim came with a statement signed by the claimed computer's key: evidence that the
   * claimant holds that key (as the genuine machine does, and so might a thief of the key).
   */
  claimSignedByOldKey: boolean;
  /** When `admin computers remove-duplicates` removed it; its id is never reused. */
  removedAt: number | null;
}

/** What registration records. */
export interface NewComputer {
  publicKey: string;
  hostIdentity: string | null;
  hostname: string | null;
  registeredAt: number;
  /** The registered computer it claims to replace (see {@linkcode ComputerRecord}). */
  claimsToReplace?: number | null;
  claimSignedByOldKey?: boolean;
}

/** A verified report, ready to store. */
export interface NewReport {
  computerId: number;
  seq: number;
  receivedAt: number;
  encrypted: boolean;
  kid: string | null;
  /** The report JSON as the client signed it. */
  body: string;
  /** SHA-256 of the body, hex: tells a resend (same digest) from a conflicting reuse of seq. */
  digest: string;
  /** The level the client says it wants, for the computer list. */
  encryptionLevel: string | null;
  /**
   * The searchable text of the report (`report_search_text.ts`), when the caller already read
   * the body (the server does); else the store takes it from the body.
   */
  searchText?: string;
}

/** Outcome of storing one report. */
export type StoreOutcome = "stored" | "duplicate" | "conflict";

/** A stored report: the report as it was stored, without what only storing it needs. */
export type ReportRecord = Pick<
  NewReport,
  "computerId" | "seq" | "receivedAt" | "encrypted" | "kid" | "body"
>;

/** A property a stored report must have: `properties.NAME` or `custom.NAME` equal to VALUE. */
export interface PropertyMatch {
  name: string;
  /** Compared as text (a number 4 matches "4", a boolean true matches "true"). */
  value: string;
}

/** Which stored reports to read, and in what order. */
export interface ReportQuery {
  computerId?: number;
  /** Received at or after this time (ms since the epoch). */
  since?: number;
  /** Every match must hold. */
  where?: readonly PropertyMatch[];
  limit?: number;
  /** Newest first (in the order the server stored them) or oldest first. */
  order: "newest" | "oldest";
}

/** Role of an MLE key in the server's key set. */
export type EncryptionKeyRole = "pending" | "current" | "previous" | "retired";

/** An MLE key as the store knows it (the private half lives in `Encryption Keys`). */
export interface EncryptionKeyRecord {
  kid: string;
  /** SubjectPublicKeyInfo DER, base64url. */
  spki: string;
  bits: number;
  role: EncryptionKeyRole;
  createdAt: number;
  deployedAt: number | null;
  retiredAt: number | null;
}

/** How much one computer used an MLE key lately (for `admin encryption retire`). */
export interface KeyUsage {
  computerId: number;
  /** Reports encrypted to the key received in the period asked about. */
  reports: number;
  /** When the last of them was received. */
  lastAt: number;
}

/** A computer (a decrypting relay) the administrator allowed to send report bundles. */
export interface BundleSenderRecord {
  computerId: number;
  allowedAt: number;
}

/** A signed settings document and whom it targets. */
export interface SettingsRecord {
  serial: number;
  /** Computer id, or null for all computers. */
  computerId: number | null;
  /** The site-signed document, as JSON text. */
  document: string;
  createdAt: number;
}

/**
 * What tells a reader of the settings records that one was added since it last read them: the
 * count as well as the newest serial, since on PostgreSQL two documents added at once may commit
 * in the other order than their serials.
 */
export interface SettingsVersion {
  count: number;
  lastSerial: number;
}

/**
 * A content key the server unwrapped, sealed under a key derived from the MLE private key it was
 * wrapped to (server/content_key_vault.ts): never the content key in clear.
 */
export interface SealedContentKeyRecord {
  computerId: number;
  kid: string;
  /** SHA-256 of the wrapped key's bytes, hex: which wrapped key this entry answers. */
  wrappedKeyHash: string;
  /** IV, sealed content key and tag (AES-256-GCM). */
  sealed: Uint8Array<ArrayBuffer>;
  createdAt: number;
}

/** Names of the site-signed documents the server serves as they are. */
export type DocumentName =
  | "encryption-certificate"
  | "revocations"
  | "masthead"
  | "rotation-directive"
  | "computer-decision";

/**
 * The documents the store numbers: each kind gets serial 1, 2, 3… (`protocol/document_version.ts`
 * orders them by it), so that the order is the store's, not the signing host's clock.
 */
export type NumberedDocumentName =
  | "encryption-certificate"
  | "revocations"
  | "rotation-directive"
  | "computer-decision";

/**
 * Signs the document that the store is about to record with `serial` (one more than the last of
 * its kind), knowing the one it replaces (`previous`, JSON text, or null); returns its JSON text.
 * Throwing records nothing. It may be called again with a higher serial when another admin session
 * recorded a document of the same kind meanwhile.
 */
export type SignNumberedDocument = (serial: number, previous: string | null) => Promise<string>;

/** A numbered document as recorded. */
export interface RecordedDocument {
  serial: number;
  /** Its JSON text. */
  document: string;
}

/** What an operator of the web console may do: admins also sign decisions and read the audit log. */
export type OperatorRole = "admin" | "viewer";

/** A console operator (`mle-admin operators add`). */
export interface OperatorRecord {
  name: string;
  role: OperatorRole;
  /** The slow salted hash of the password (`keystore/operator_password.ts`), never the password. */
  passwordHash: string;
  createdAt: number;
}

/** One line of the console's audit log: who did what, when. */
export interface AuditEntry {
  at: number;
  /** The operator's name, or the name tried for a failed sign-in. */
  operator: string;
  /** What was done: "sign-in", "sign-in-failed", "revoke", … */
  action: string;
  /** Details for the reader (ids, serials, the source address); never a password or a report. */
  detail: string;
}

/** The states the console filters computers by. */
export type ComputerState =
  | "active"
  | "held"
  | "revoked"
  | "replaced"
  | "duplicate"
  | "flagged"
  | "removed";

/** A page of computers, filtered and sorted by the store. */
export interface ComputerQuery {
  /** A computer id, part of a hostname, or part of a property value of its last report. */
  search?: string;
  /** The level the computer last reported ("required", "optional", "none"). */
  level?: string;
  /** The key id its last report was encrypted to; "clear" for clear text, "none" for never. */
  kid?: string;
  state?: ComputerState;
  /**
   * When the site's encryption became unavailable (the disabled certificate's date; a very large
   * number when no key was ever deployed), or null while it is available: "held" computers are
   * active ones at level required that have not reported since.
   */
  heldSince: number | null;
  /** Last report at or after this time. */
  reportedSince?: number;
  /** No report at or after this time (including never). */
  silentSince?: number;
  sort: "id" | "hostname" | "lastReport" | "registered";
  descending: boolean;
  offset: number;
  /** At most 500. */
  limit: number;
}

/**
 * The query a computer list starts from: every computer (none "held": encryption available), by
 * id, the first page of 50.
 */
export const FIRST_COMPUTER_PAGE: Readonly<ComputerQuery> = {
  heldSince: null,
  sort: "id",
  descending: false,
  offset: 0,
  limit: 50,
};

/** A page of computers and how many match in all. */
export interface ComputerPage {
  total: number;
  computers: ComputerRecord[];
}

/** Counts of computers for the console's overview. */
export interface ComputerSummary {
  total: number;
  /** Active computers by the level they last reported ("unknown" when none yet). */
  byLevel: Record<string, number>;
  /** Active computers by the key of their last report ("clear", "none" when never reported). */
  byKid: Record<string, number>;
  byState: Record<ComputerState, number>;
}
/**
 * A change another process made that servers cache: a computer's state (revoked, replaced,
 * duplicate, removed, flagged), the keys or the documents (certificate, revocation list); or
 * `resync` when changes may have been missed (the notification connection was re-established),
 * after which a server re-reads everything it caches.
 */
export type StoreChange =
  | { kind: "computer"; computerId: number }
  | { kind: "keys" }
  | { kind: "resync" };

/** The storage interface shared by the server and the admin tool. */
export interface Store {
  registerComputer(computer: NewComputer): Promise<ComputerRecord>;
  getComputer(id: number): Promise<ComputerRecord | null>;
  findComputerByPublicKey(publicKey: string): Promise<ComputerRecord | null>;
  listComputers(): Promise<ComputerRecord[]>;
  /** Revokes a computer; false when it was already revoked. */
  revokeComputer(id: number, now: number): Promise<boolean>;
  listRevokedIds(): Promise<number[]>;
  /** Ids whose reports are refused: revoked, replaced by a hand-over, or removed. */
  listInactiveIds(): Promise<number[]>;
  /** Computers (not removed) registered with this host identity, oldest first. */
  findComputersByHostIdentity(hostIdentity: string): Promise<ComputerRecord[]>;
  /**
   * Links an older computer to a newer one: hand-over (`replaced_by`, recording
   * `handoverLastSeq`, default 0) or duplicate.
   */
  linkComputers(
    oldId: number,
    newId: number,
    link: "replaced_by" | "duplicate_of",
    handoverLastSeq?: number,
  ): Promise<void>;
  flagComputer(id: number, reason: string | null): Promise<void>;
  /** Removes a computer from the lists (its reports stay; its id is never reused). */
  removeComputer(id: number, now: number): Promise<void>;
  /** Stores reports in one transaction; one outcome per report, in order. */
  storeReports(reports: NewReport[]): Promise<StoreOutcome[]>;
  listReports(computerId: number): Promise<ReportRecord[]>;
  /** The report of a computer with the highest sequence number, or null when it sent none. */
  lastReport(computerId: number): Promise<ReportRecord | null>;

  /**
   * Reads stored reports one at a time, as the database yields them: memory stays constant
   * however many match (an export of a million reports).
   */
  iterateReports(query: ReportQuery): AsyncIterable<ReportRecord>;
  countReports(): Promise<number>;

  listEncryptionKeys(): Promise<EncryptionKeyRecord[]>;
  addEncryptionKey(key: EncryptionKeyRecord): Promise<void>;
  /**
   * Makes `kid` the current key: the old current becomes previous, and the certificate, signed
   * with the next serial, is recorded, in one transaction.
   */
  deployEncryptionKey(
    kid: string,
    certificate: SignNumberedDocument,
    now: number,
  ): Promise<RecordedDocument>;
  /**
   * Turns encryption off: the current key becomes previous; the "disabled" certificate, signed
   * with the next serial, is recorded, in one transaction.
   */
  disableEncryption(certificate: SignNumberedDocument, now: number): Promise<RecordedDocument>;
  /** Retires a key that is not current: servers stop loading it. False when nothing changed. */
  retireEncryptionKey(kid: string, now: number): Promise<boolean>;
  /** Per computer, the reports encrypted to `kid` received since `since`, most recent first. */
  listKeyUsage(kid: string, since: number): Promise<KeyUsage[]>;

  /** Allows a computer (a decrypting relay) to send report bundles, or stops allowing it. */
  setBundleSender(computerId: number, allowed: boolean, now: number): Promise<void>;
  isBundleSender(computerId: number): Promise<boolean>;
  listBundleSenders(): Promise<BundleSenderRecord[]>;

  getDocument(name: DocumentName): Promise<string | null>;
  /** Stores a document as it is: the masthead (numbered documents go through `recordDocument`). */
  putDocument(name: DocumentName, document: string): Promise<void>;
  /**
   * Records a numbered document: allocates the next serial of its kind, has it signed, and
   * records the serial and the document in one transaction.
   */
  recordDocument(
    name: NumberedDocumentName,
    sign: SignNumberedDocument,
  ): Promise<RecordedDocument>;

  addSettings(computerIds: number[] | null, document: string, now: number): Promise<number>;
  /** Settings documents for one computer (its own and those for all), oldest first. */
  listSettingsFor(computerId: number): Promise<SettingsRecord[]>;
  /** Every settings document record, oldest first. */
  listSettings(): Promise<SettingsRecord[]>;
  /** How many settings records there are and the newest serial: changes with every one added. */
  settingsVersion(): Promise<SettingsVersion>;

  /** The sealed content key kept for a computer and server key, or null. */
  getSealedContentKey(computerId: number, kid: string): Promise<SealedContentKeyRecord | null>;
  /** Keeps sealed content keys, one per computer and server key (a newer one replaces it). */
  putSealedContentKeys(records: SealedContentKeyRecord[]): Promise<void>;
  /** Deletes the sealed content keys of a server key (when it is retired). */
  deleteSealedContentKeys(kid: string): Promise<void>;

  /** A computer's reports, newest first, `limit` of them after skipping `offset`. */
  listReportsPage(computerId: number, offset: number, limit: number): Promise<ReportRecord[]>;
  /** How many reports a computer has stored. */
  countReportsOf(computerId: number): Promise<number>;
  /** Reports received per hour since `since`: [hour start in ms, count], oldest first. */
  reportsPerHour(since: number): Promise<Array<[number, number]>>;
  /** The console's computer list: filtered, sorted and paged here, not in the caller. */
  queryComputers(query: ComputerQuery): Promise<ComputerPage>;
  /** The console's overview counts (`heldSince` as in {@linkcode ComputerQuery}). */
  summarizeComputers(heldSince: number | null): Promise<ComputerSummary>;

  /** Adds an operator; false when the name is taken. */
  addOperator(operator: OperatorRecord): Promise<boolean>;
  getOperator(name: string): Promise<OperatorRecord | null>;
  listOperators(): Promise<OperatorRecord[]>;
  /** Replaces an operator's password hash; false when there is no such operator. */
  setOperatorPassword(name: string, passwordHash: string): Promise<boolean>;
  /** Removes an operator; false when there was none. */
  removeOperator(name: string): Promise<boolean>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** The newest audit entries first, at most `limit`. */
  listAudit(limit: number): Promise<AuditEntry[]>;
  /** Records a server (replacing its earlier record): at its start and at every heartbeat. */
  recordServer(server: ServerRecord): Promise<void>;
  /** The servers that recorded themselves, by name. */
  listServers(): Promise<ServerRecord[]>;
  /** Records (or updates) a decrypting relay's report of itself. */
  recordDecryptingRelay(relay: DecryptingRelayRecord): Promise<void>;
  /** The decrypting relays that reported themselves, by computer id. */
  listDecryptingRelays(): Promise<DecryptingRelayRecord[]>;

  /**
   * Calls `listener` on every change another process makes that servers cache, as soon as it is
   * committed (PostgreSQL: `LISTEN/NOTIFY`). False when the backend cannot tell (SQLite): the
   * caller polls instead. Listening ends when the store closes.
   */
  watchChanges(listener: (change: StoreChange) => void): Promise<boolean>;

  close(): void;
}
