/**
 * The SQLite schema, as numbered migrations (`migrations.ts`). Migration 1 is the schema as it
 * stood before migrations were numbered (every statement `IF NOT EXISTS`), so that a file made
 * by an earlier version can be adopted: see {@linkcode adoptedVersion}.
 *
 * @module
 */

import type { Migration } from "./migrations.ts";

/** The SQLite migrations, oldest first. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name:
      "computers, reports, keys, documents, settings, bundle senders, sealed content keys, uploads",
    sql: `
CREATE TABLE IF NOT EXISTS computers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  public_key TEXT NOT NULL UNIQUE,
  host_identity TEXT,
  hostname TEXT,
  registered_at INTEGER NOT NULL,
  last_report_at INTEGER,
  last_kid TEXT,
  encryption_level TEXT,
  revoked_at INTEGER,
  replaced_by INTEGER,
  duplicate_of INTEGER,
  flagged TEXT,
  removed_at INTEGER
);
CREATE INDEX IF NOT EXISTS computers_by_host ON computers (host_identity);
-- A rowid table: reports of 1-2 KB fill WITHOUT ROWID leaf pages two rows at a time, which made
-- each insert about four times slower and the file three times larger (SQLite advises WITHOUT
-- ROWID only for rows under about 1/20 of a page). The primary key still stores each report once.
CREATE TABLE IF NOT EXISTS reports (
  computer_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  received_at INTEGER NOT NULL,
  encrypted INTEGER NOT NULL,
  kid TEXT,
  body TEXT NOT NULL,
  digest TEXT NOT NULL,
  PRIMARY KEY (computer_id, seq)
);
CREATE TABLE IF NOT EXISTS encryption_keys (
  kid TEXT PRIMARY KEY,
  spki TEXT NOT NULL,
  bits INTEGER NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deployed_at INTEGER,
  retired_at INTEGER
);
CREATE TABLE IF NOT EXISTS documents (
  name TEXT PRIMARY KEY,
  document TEXT NOT NULL
);
-- The last serial of each numbered document kind (encryption certificate, revocation list).
-- Documents recorded before this table have no serial: the first one recorded after gets 1.
CREATE TABLE IF NOT EXISTS document_serials (
  name TEXT PRIMARY KEY,
  serial INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (
  serial INTEGER PRIMARY KEY AUTOINCREMENT,
  computer_id INTEGER,
  document TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS settings_by_computer ON settings (computer_id);
CREATE TABLE IF NOT EXISTS bundle_senders (
  computer_id INTEGER PRIMARY KEY,
  allowed_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sealed_content_keys (
  computer_id INTEGER NOT NULL,
  kid TEXT NOT NULL,
  wrapped_key_hash TEXT NOT NULL,
  sealed BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (computer_id, kid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  computer_id INTEGER NOT NULL,
  upload_id TEXT NOT NULL,
  declared_name TEXT NOT NULL,
  stored_name TEXT,
  size INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  chunk_size INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  encrypted INTEGER NOT NULL,
  kid TEXT,
  manifest_digest TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER,
  PRIMARY KEY (computer_id, upload_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS uploads_by_state ON uploads (state);
`,
  },
  {
    version: 2,
    name: "registration claims on computers (claims_to_replace, claim_signed_by_old_key)",
    sql: `
ALTER TABLE computers ADD COLUMN claims_to_replace INTEGER;
ALTER TABLE computers ADD COLUMN claim_signed_by_old_key INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 3,
    name: "uploads count the bytes received (received_bytes)",
    sql: `
ALTER TABLE uploads ADD COLUMN received_bytes INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 4,
    name: "the web console: operators, the audit log, and the indexes of its queries",
    sql: `
CREATE TABLE IF NOT EXISTS operators (
  name TEXT PRIMARY KEY,
  role TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  operator TEXT NOT NULL,
  action TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS computers_by_last_report ON computers (last_report_at);
CREATE INDEX IF NOT EXISTS computers_by_hostname ON computers (hostname);
CREATE INDEX IF NOT EXISTS computers_by_last_kid ON computers (last_kid);
CREATE INDEX IF NOT EXISTS reports_by_received_at ON reports (received_at);
`,
  },
  {
    version: 5,
    name: "the searchable text of each computer's last report (search_text), backfilled",
    // The stores write it with reportSearchText() (store/report_search_text.ts); the backfill
    // takes the same values with SQLite's JSON functions (control characters kept as they are).
    sql: `
ALTER TABLE computers ADD COLUMN search_text TEXT;
UPDATE computers SET search_text = (
  SELECT substr(group_concat(CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
    ELSE j.atom END, char(10)), 1, 4096)
  FROM (SELECT CASE WHEN json_valid(body) THEN body ELSE '{}' END AS body FROM reports
    WHERE computer_id = computers.id ORDER BY seq DESC LIMIT 1) AS last,
    (SELECT 'properties' AS section UNION ALL SELECT 'custom') AS sections,
    json_tree(last.body, '$.' || sections.section) AS j
  WHERE json_type(last.body, '$.' || sections.section) = 'object' AND j.atom IS NOT NULL
) WHERE last_report_at IS NOT NULL;
`,
  },
  {
    version: 6,
    name: "servers sharing the database (servers), where each upload landed (uploads.server)",
    // One server per SQLite file, but the same records as PostgreSQL's, so the admin tool shows
    // the same columns (SQLite has no notifications: servers poll it).
    sql: `
CREATE TABLE servers (
  name TEXT PRIMARY KEY,
  url TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  stopped_at INTEGER,
  kids TEXT NOT NULL
) WITHOUT ROWID;
ALTER TABLE uploads ADD COLUMN server TEXT;
`,
  },
  {
    version: 7,
    name: "the last sequence number a replaced computer's hand-over named (handover_last_seq)",
    sql: `
ALTER TABLE computers ADD COLUMN handover_last_seq INTEGER NOT NULL DEFAULT 0;
`,
  },
];

/**
 * The version of a file made before migrations were numbered (it has tables but no
 * `schema_migrations`), once migration 1 (all `IF NOT EXISTS`) has filled in any table it
 * lacked: 2 when its computers already have the claim columns, else 1.
 */
export function adoptedVersion(computerColumns: readonly string[]): number {
  return computerColumns.includes("claims_to_replace") ? 2 : 1;
}
