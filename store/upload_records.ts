/**
 * The server's records of file uploads, beside the `Store` of reports: what each computer sent,
 * where it stands, and the quotas' accounting: a stored file counts its size, an upload in
 * progress the bytes the server wrote for it (as of its last checkpoint), never the size it
 * declared. The SQLite implementation
 * (`sqlite_upload_records.ts`) keeps them in the server's database; the file bytes live under
 * `<data-dir>/uploads/` (`server/upload_store.ts`).
 *
 * @module
 */

/** Where an upload stands at the server. */
export type UploadRecordState = "receiving" | "finalizing" | "complete" | "failed";

/** One upload as the server records it. */
export interface UploadRecord {
  computerId: number;
  uploadId: string;
  /** The name the client declared: shown (escaped), never used as a path. */
  declaredName: string;
  /** The sanitised file name under `uploads/<computer id>/`, once chosen. */
  storedName: string | null;
  size: number;
  /**
   * Bytes of file data written for it, as of its last checkpoint: what it counts against the
   * quotas while receiving (stored, it counts `size`).
   */
  receivedBytes: number;
  /** The SHA-256 the client declared, lowercase hex. */
  sha256: string;
  chunkSize: number;
  chunkCount: number;
  encrypted: boolean;
  kid: string | null;
  /** SHA-256 of the manifest message: tells a resend from another manifest with the same id. */
  manifestDigest: string;
  state: UploadRecordState;
  /** Why it failed: `CODE: message`. */
  error: string | null;
  createdAt: number;
  updatedAt: number;
  completedAt: number | null;
  /**
   * The server that holds its file (or the partial file, while receiving): its name
   * (`store/server_records.ts`); null for records made before servers were named.
   */
  server: string | null;
}

/**
 * Quotas checked when an upload is recorded: its declared size must fit beside what is stored
 * and received.
 */
export interface UploadQuotas {
  /** Most bytes one computer may have stored or received (0: no limit). */
  perComputerBytes: number;
  /** Most bytes all computers together may have stored or received (0: no limit). */
  totalBytes: number;
  /** Uploads still receiving but idle since before this time no longer count. */
  activeSince: number;
  /** Most uploads one computer may have in progress at once (0: no limit). */
  inProgressPerComputer?: number;
}

/** Bytes and uploads counted against the quotas. */
export interface UploadUsage {
  /** Bytes of this computer's stored files and received for its uploads in progress. */
  computerBytes: number;
  /** Bytes of everyone's. */
  totalBytes: number;
  /** This computer's uploads in progress. */
  inProgress: number;
}

/** Outcome of recording a new upload. */
export type CreateUploadOutcome =
  | "created"
  | "exists"
  | "computer-quota"
  | "total-quota"
  | "too-many-in-progress";

/** Changes to an upload's record. */
export type UploadChange = Partial<
  Pick<
    UploadRecord,
    "state" | "storedName" | "error" | "completedAt" | "updatedAt" | "receivedBytes"
  >
>;

/** Storage of upload records. */
export interface UploadRecords {
  /**
   * Records a new upload if the quotas allow it, in one transaction, so two uploads arriving
   * together cannot both pass a check that only one of them fits.
   */
  createUpload(record: UploadRecord, quotas: UploadQuotas): Promise<CreateUploadOutcome>;
  /**
   * What one computer and all together hold against the quotas (as `createUpload` counts it):
   * read before a new upload's key is unwrapped, so a computer past its quota costs no RSA.
   */
  usage(computerId: number, activeSince: number): Promise<UploadUsage>;
  getUpload(computerId: number, uploadId: string): Promise<UploadRecord | null>;
  updateUpload(computerId: number, uploadId: string, change: UploadChange): Promise<void>;
  /**
   * Makes `server` the holder of an upload still receiving that another server held (a client
   * failed over), touching it; false when the upload is not receiving (nothing changed).
   */
  takeOverUpload(
    computerId: number,
    uploadId: string,
    server: string,
    now: number,
  ): Promise<boolean>;
  /** Uploads of one computer, or of all, oldest first. */
  listUploads(computerId?: number): Promise<UploadRecord[]>;
  /** Uploads in a state, oldest first (for the start-up sweep). */
  listUploadsIn(state: UploadRecordState): Promise<UploadRecord[]>;
  close(): void;
}
