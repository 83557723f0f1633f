/**
 * The part of the `Store` whose SQL is the same in SQLite and PostgreSQL, written once over a
 * {@linkcode SqlRunner}: computers and bundle senders, reports read back and key usage,
 * encryption keys and sealed content keys, documents and settings, server records, and the web
 * console's queries (delegated to `_sql_console.ts`, in the backend's dialect).
 * The statements of its transactions (settings for several computers, sealed content keys, a
 * numbered document and what goes with it) are written once too, as steps (`SqlSteps`).
 * `sqlite_store.ts` and `postgres_store.ts` extend it with what differs: how a transaction runs,
 * how a document serial is taken, registering a computer, a batch of reports, searching
 * reports, and watching for changes.
 *
 * @module
 */

import {
  toComputer,
  toDecryptingRelay,
  toEncryptionKey,
  toReport,
  toSealedContentKey,
  toServer,
  toSettings,
} from "./_rows.ts";
import type { Bind, ConsoleDialect } from "./_console_sql.ts";
import { recordWithNextSerial } from "./_document_serials.ts";
import { SqlConsoleTables } from "./_sql_console.ts";
import type { SqlRunner, SqlStatement, SqlSteps } from "./_sql_runner.ts";
import type { ServerRecord } from "./server_records.ts";
import type { DecryptingRelayRecord } from "./relay_records.ts";
import type {
  AuditEntry,
  BundleSenderRecord,
  ComputerPage,
  ComputerQuery,
  ComputerRecord,
  ComputerSummary,
  DocumentName,
  EncryptionKeyRecord,
  KeyUsage,
  NumberedDocumentName,
  OperatorRecord,
  RecordedDocument,
  ReportRecord,
  SealedContentKeyRecord,
  SettingsRecord,
  SettingsVersion,
  SignNumberedDocument,
} from "./store.ts";

/** Upserts a document by name (also in the transaction that records a numbered document). */
const PUT_DOCUMENT_SQL = `INSERT INTO documents (name, document) VALUES (:name, :document)
  ON CONFLICT (name) DO UPDATE SET document = excluded.document`;

/** Upserts a sealed content key. */
const PUT_SEALED_CONTENT_KEY_SQL =
  `INSERT INTO sealed_content_keys (computer_id, kid, wrapped_key_hash, sealed, created_at)
  VALUES (:computerId, :kid, :wrappedKeyHash, :sealed, :createdAt)
  ON CONFLICT (computer_id, kid) DO UPDATE SET wrapped_key_hash = excluded.wrapped_key_hash,
    sealed = excluded.sealed, created_at = excluded.created_at`;

/** The parameters of {@linkcode PUT_SEALED_CONTENT_KEY_SQL} for one record. */
function sealedContentKeyParams(record: SealedContentKeyRecord): Record<string, Bind> {
  const { computerId, kid, wrappedKeyHash, sealed, createdAt } = record;
  return { computerId, kid, wrappedKeyHash, sealed, createdAt };
}

/** The SQL both backends share; each backend extends it. */
export abstract class SqlStore {
  readonly #sql: SqlRunner;
  readonly #console: SqlConsoleTables;

  constructor(sql: SqlRunner, dialect: ConsoleDialect) {
    this.#sql = sql;
    this.#console = new SqlConsoleTables(sql, dialect);
  }

  /**
   * Runs the statements `steps()` gives in one transaction of this backend; a backend that tries
   * a transaction again calls `steps` again.
   */
  protected abstract inTransaction<T>(steps: () => SqlSteps<T>): Promise<T>;

  /**
   * The steps that take `serial` as the next serial of `name`, inside the transaction recording
   * it: false, and nothing written, when another writer took it first.
   */
  protected abstract takeSerialSteps(name: NumberedDocumentName, serial: number): SqlSteps<boolean>;

  // Computers.

  async getComputer(id: number): Promise<ComputerRecord | null> {
    const [row] = await this.#sql.all("SELECT * FROM computers WHERE id = :id", { id });
    return row ? toComputer(row) : null;
  }

  async findComputerByPublicKey(publicKey: string): Promise<ComputerRecord | null> {
    const [row] = await this.#sql.all("SELECT * FROM computers WHERE public_key = :publicKey", {
      publicKey,
    });
    return row ? toComputer(row) : null;
  }

  async listComputers(): Promise<ComputerRecord[]> {
    return (await this.#sql.all("SELECT * FROM computers ORDER BY id")).map(toComputer);
  }

  async revokeComputer(id: number, now: number): Promise<boolean> {
    return await this.#sql.run(
      "UPDATE computers SET revoked_at = :now WHERE id = :id AND revoked_at IS NULL",
      { id, now },
    ) === 1;
  }

  async listRevokedIds(): Promise<number[]> {
    const rows = await this.#sql.all(
      "SELECT id FROM computers WHERE revoked_at IS NOT NULL ORDER BY id",
    );
    return rows.map((row) => Number(row.id));
  }

  async listInactiveIds(): Promise<number[]> {
    const rows = await this.#sql.all(
      `SELECT id FROM computers WHERE revoked_at IS NOT NULL OR replaced_by IS NOT NULL
       OR removed_at IS NOT NULL ORDER BY id`,
    );
    return rows.map((row) => Number(row.id));
  }

  async findComputersByHostIdentity(hostIdentity: string): Promise<ComputerRecord[]> {
    return (await this.#sql.all(
      `SELECT * FROM computers WHERE host_identity = :hostIdentity AND removed_at IS NULL
       ORDER BY id`,
      { hostIdentity },
    )).map(toComputer);
  }

  async linkComputers(
    oldId: number,
    newId: number,
    link: "replaced_by" | "duplicate_of",
    handoverLastSeq = 0,
  ): Promise<void> {
    if (link === "replaced_by") {
      await this.#sql.run(
        `UPDATE computers SET replaced_by = :newId, handover_last_seq = :handoverLastSeq,
         duplicate_of = NULL WHERE id = :oldId`,
        { oldId, newId, handoverLastSeq },
      );
    } else {
      await this.#sql.run(
        "UPDATE computers SET duplicate_of = :newId WHERE id = :oldId AND replaced_by IS NULL",
        { oldId, newId },
      );
    }
  }

  async flagComputer(id: number, reason: string | null): Promise<void> {
    await this.#sql.run("UPDATE computers SET flagged = :reason WHERE id = :id", { id, reason });
  }

  async removeComputer(id: number, now: number): Promise<void> {
    await this.#sql.run(
      "UPDATE computers SET removed_at = :now WHERE id = :id AND removed_at IS NULL",
      { id, now },
    );
  }

  async setBundleSender(computerId: number, allowed: boolean, now: number): Promise<void> {
    if (allowed) {
      await this.#sql.run(
        `INSERT INTO bundle_senders (computer_id, allowed_at) VALUES (:computerId, :now)
         ON CONFLICT DO NOTHING`,
        { computerId, now },
      );
    } else {
      await this.#sql.run("DELETE FROM bundle_senders WHERE computer_id = :computerId", {
        computerId,
      });
    }
  }

  async isBundleSender(computerId: number): Promise<boolean> {
    const rows = await this.#sql.all(
      "SELECT 1 AS yes FROM bundle_senders WHERE computer_id = :computerId",
      { computerId },
    );
    return rows.length > 0;
  }

  async listBundleSenders(): Promise<BundleSenderRecord[]> {
    const rows = await this.#sql.all("SELECT * FROM bundle_senders ORDER BY computer_id");
    return rows.map((row) => ({
      computerId: Number(row.computer_id),
      allowedAt: Number(row.allowed_at),
    }));
  }

  // Reports read back.

  async listReports(computerId: number): Promise<ReportRecord[]> {
    return (await this.#sql.all(
      "SELECT * FROM reports WHERE computer_id = :computerId ORDER BY seq",
      { computerId },
    )).map(toReport);
  }

  async lastReport(computerId: number): Promise<ReportRecord | null> {
    const [row] = await this.#sql.all(
      "SELECT * FROM reports WHERE computer_id = :computerId ORDER BY seq DESC LIMIT 1",
      { computerId },
    );
    return row ? toReport(row) : null;
  }

  async countReports(): Promise<number> {
    const [row] = await this.#sql.all("SELECT count(*) AS n FROM reports");
    return Number(row.n);
  }

  // Encryption keys and sealed content keys.

  async listEncryptionKeys(): Promise<EncryptionKeyRecord[]> {
    return (await this.#sql.all("SELECT * FROM encryption_keys ORDER BY created_at, kid"))
      .map(toEncryptionKey);
  }

  async addEncryptionKey(key: EncryptionKeyRecord): Promise<void> {
    await this.#sql.run(
      `INSERT INTO encryption_keys (kid, spki, bits, role, created_at, deployed_at, retired_at)
       VALUES (:kid, :spki, :bits, :role, :createdAt, :deployedAt, :retiredAt)`,
      {
        kid: key.kid,
        spki: key.spki,
        bits: key.bits,
        role: key.role,
        createdAt: key.createdAt,
        deployedAt: key.deployedAt,
        retiredAt: key.retiredAt,
      },
    );
  }

  async retireEncryptionKey(kid: string, now: number): Promise<boolean> {
    return await this.#sql.run(
      `UPDATE encryption_keys SET role = 'retired', retired_at = :now
       WHERE kid = :kid AND role IN ('pending', 'previous')`,
      { kid, now },
    ) === 1;
  }

  async listKeyUsage(kid: string, since: number): Promise<KeyUsage[]> {
    const rows = await this.#sql.all(
      `SELECT computer_id, count(*) AS reports, max(received_at) AS last_at FROM reports
       WHERE kid = :kid AND received_at >= :since GROUP BY computer_id ORDER BY last_at DESC`,
      { kid, since },
    );
    return rows.map((row) => ({
      computerId: Number(row.computer_id),
      reports: Number(row.reports),
      lastAt: Number(row.last_at),
    }));
  }

  async getSealedContentKey(
    computerId: number,
    kid: string,
  ): Promise<SealedContentKeyRecord | null> {
    const [row] = await this.#sql.all(
      "SELECT * FROM sealed_content_keys WHERE computer_id = :computerId AND kid = :kid",
      { computerId, kid },
    );
    return row ? toSealedContentKey(row) : null;
  }

  async putSealedContentKeys(records: SealedContentKeyRecord[]): Promise<void> {
    if (records.length === 0) return;
    // In the order of computers, so that concurrent writers take the rows' locks in one order.
    const sorted = [...records].sort((a, b) => a.computerId - b.computerId);
    await this.inTransaction(function* (): SqlSteps<void> {
      for (const record of sorted) {
        yield { sql: PUT_SEALED_CONTENT_KEY_SQL, params: sealedContentKeyParams(record) };
      }
    });
  }

  async deleteSealedContentKeys(kid: string): Promise<void> {
    await this.#sql.run("DELETE FROM sealed_content_keys WHERE kid = :kid", { kid });
  }

  // Documents, settings and server records.

  async getDocument(name: DocumentName): Promise<string | null> {
    const [row] = await this.#sql.all("SELECT document FROM documents WHERE name = :name", {
      name,
    });
    return row ? String(row.document) : null;
  }

  async putDocument(name: DocumentName, document: string): Promise<void> {
    await this.#sql.run(PUT_DOCUMENT_SQL, { name, document });
  }

  /** Records the next numbered `name`, with the statements `alongside` in the same transaction. */
  #recordNumbered(
    name: NumberedDocumentName,
    sign: SignNumberedDocument,
    alongside: readonly SqlStatement[],
  ): Promise<RecordedDocument> {
    return recordWithNextSerial(name, sign, {
      lastSerial: async () => {
        const [row] = await this.#sql.all(
          "SELECT serial FROM document_serials WHERE name = :name",
          { name },
        );
        return row ? Number(row.serial) : 0;
      },
      current: () => this.getDocument(name),
      recordIfNext: (serial, document) =>
        this.inTransaction(() => this.#recordSteps(name, serial, document, alongside)),
    });
  }

  *#recordSteps(
    name: NumberedDocumentName,
    serial: number,
    document: string,
    alongside: readonly SqlStatement[],
  ): SqlSteps<boolean> {
    if (!(yield* this.takeSerialSteps(name, serial))) return false;
    yield { sql: PUT_DOCUMENT_SQL, params: { name, document } };
    yield* alongside;
    return true;
  }

  recordDocument(
    name: NumberedDocumentName,
    sign: SignNumberedDocument,
  ): Promise<RecordedDocument> {
    return this.#recordNumbered(name, sign, []);
  }

  deployEncryptionKey(
    kid: string,
    certificate: SignNumberedDocument,
    now: number,
  ): Promise<RecordedDocument> {
    return this.#recordNumbered("encryption-certificate", certificate, [{
      sql: "UPDATE encryption_keys SET role = 'previous' WHERE role = 'current' AND kid <> :kid",
      params: { kid },
    }, {
      sql: `UPDATE encryption_keys SET role = 'current', deployed_at = coalesce(deployed_at, :now)
        WHERE kid = :kid`,
      params: { kid, now },
    }]);
  }

  disableEncryption(certificate: SignNumberedDocument, _now: number): Promise<RecordedDocument> {
    return this.#recordNumbered("encryption-certificate", certificate, [{
      sql: "UPDATE encryption_keys SET role = 'previous' WHERE role = 'current'",
      params: {},
    }]);
  }

  addSettings(computerIds: number[] | null, document: string, now: number): Promise<number> {
    return this.inTransaction(function* (): SqlSteps<number> {
      let last = 0;
      for (const computerId of computerIds ?? [null]) {
        const [row] = yield {
          sql: `INSERT INTO settings (computer_id, document, created_at)
            VALUES (:computerId, :document, :now) RETURNING serial`,
          params: { computerId, document, now },
        };
        last = Number(row.serial);
      }
      return last;
    });
  }

  async listSettings(): Promise<SettingsRecord[]> {
    return (await this.#sql.all("SELECT * FROM settings ORDER BY serial")).map(toSettings);
  }

  async settingsVersion(): Promise<SettingsVersion> {
    const [row] = await this.#sql.all(
      "SELECT count(*) AS n, coalesce(max(serial), 0) AS last FROM settings",
    );
    return { count: Number(row.n), lastSerial: Number(row.last) };
  }

  async listSettingsFor(computerId: number): Promise<SettingsRecord[]> {
    return (await this.#sql.all(
      `SELECT * FROM settings WHERE computer_id IS NULL OR computer_id = :computerId
       ORDER BY serial`,
      { computerId },
    )).map(toSettings);
  }

  async recordServer(server: ServerRecord): Promise<void> {
    await this.#sql.run(
      `INSERT INTO servers (name, url, started_at, last_seen_at, stopped_at, kids)
       VALUES (:name, :url, :startedAt, :lastSeenAt, :stoppedAt, :kids)
       ON CONFLICT (name) DO UPDATE SET url = excluded.url, started_at = excluded.started_at,
         last_seen_at = excluded.last_seen_at, stopped_at = excluded.stopped_at,
         kids = excluded.kids`,
      {
        name: server.name,
        url: server.url,
        startedAt: server.startedAt,
        lastSeenAt: server.lastSeenAt,
        stoppedAt: server.stoppedAt,
        kids: server.kids.join(" "),
      },
    );
  }

  async listServers(): Promise<ServerRecord[]> {
    return (await this.#sql.all("SELECT * FROM servers ORDER BY name")).map(toServer);
  }

  async recordDecryptingRelay(relay: DecryptingRelayRecord): Promise<void> {
    await this.#sql.run(
      `INSERT INTO decrypting_relays (computer_id, name, url, last_seen_at, kids)
       VALUES (:computerId, :name, :url, :lastSeenAt, :kids)
       ON CONFLICT (computer_id) DO UPDATE SET name = excluded.name, url = excluded.url,
         last_seen_at = excluded.last_seen_at, kids = excluded.kids`,
      {
        computerId: relay.computerId,
        name: relay.name,
        url: relay.url,
        lastSeenAt: relay.lastSeenAt,
        kids: relay.kids.join(" "),
      },
    );
  }

  async listDecryptingRelays(): Promise<DecryptingRelayRecord[]> {
    return (await this.#sql.all("SELECT * FROM decrypting_relays ORDER BY computer_id"))
      .map(toDecryptingRelay);
  }

  // The web console.

  async listReportsPage(
    computerId: number,
    offset: number,
    limit: number,
  ): Promise<ReportRecord[]> {
    return await this.#console.listReportsPage(computerId, offset, limit);
  }

  async countReportsOf(computerId: number): Promise<number> {
    return await this.#console.countReportsOf(computerId);
  }

  async reportsPerHour(since: number): Promise<Array<[number, number]>> {
    return await this.#console.reportsPerHour(since);
  }

  async queryComputers(query: ComputerQuery): Promise<ComputerPage> {
    return await this.#console.queryComputers(query);
  }

  async summarizeComputers(heldSince: number | null): Promise<ComputerSummary> {
    return await this.#console.summarizeComputers(heldSince);
  }

  async addOperator(operator: OperatorRecord): Promise<boolean> {
    return await this.#console.addOperator(operator);
  }

  async getOperator(name: string): Promise<OperatorRecord | null> {
    return await this.#console.getOperator(name);
  }

  async listOperators(): Promise<OperatorRecord[]> {
    return await this.#console.listOperators();
  }

  async setOperatorPassword(name: string, passwordHash: string): Promise<boolean> {
    return await this.#console.setOperatorPassword(name, passwordHash);
  }

  async removeOperator(name: string): Promise<boolean> {
    return await this.#console.removeOperator(name);
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.#console.appendAudit(entry);
  }

  async listAudit(limit: number): Promise<AuditEntry[]> {
    return await this.#console.listAudit(limit);
  }
}
