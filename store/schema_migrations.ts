/**
 * The schema of both backends, as numbered migrations (`migrations.ts`): each step once, with its
 * SQL in SQLite's dialect and in PostgreSQL's side by side, so that migration N makes the same
 * change in both. Times are milliseconds since the epoch (`INTEGER`, `bigint`), flags 0/1
 * (`INTEGER`, `smallint`), so both backends give the same rows (`_rows.ts`).
 *
 * SQLite's migration 1 is the schema as it stood before migrations were numbered (every statement
 * `IF NOT EXISTS`), so that a file made by an earlier version can be adopted: see
 * {@linkcode adoptedVersion}.
 *
 * @module
 */

import type { Migration } from "./migrations.ts";

/** One step of the schema, in both dialects. */
interface SchemaStep {
  /** 1, 2, 3…, without gaps. */
  version: number;
  /** What it changes, for `mle-admin db migrate --dry-run`. */
  name: string;
  /** The statements for SQLite. */
  sqlite: string;
  /** The statements for PostgreSQL. */
  postgres: string;
}

/**
 * The SQL of a step that adds columns to one table: the same statements in both dialects but for
 * each column's type (SQLite's, then PostgreSQL's).
 */
function columnsAdded(
  table: string,
  columns: [name: string, sqliteType: string, postgresType: string][],
): Pick<SchemaStep, "sqlite" | "postgres"> {
  const statements = (type: 1 | 2) =>
    "\n" +
    columns.map((column) => `ALTER TABLE ${table} ADD COLUMN ${column[0]} ${column[type]};\n`)
      .join("");
  return { sqlite: statements(1), postgres: statements(2) };
}

/** The steps, oldest first. */
const SCHEMA_STEPS: readonly SchemaStep[] = [
  {
    version: 1,
    name:
      "computers, reports, keys, documents, settings, bundle senders, sealed content keys, uploads",
    sqlite: `
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
    postgres: `
CREATE TABLE computers (
  id bigserial PRIMARY KEY,
  public_key text NOT NULL UNIQUE,
  host_identity text,
  hostname text,
  registered_at bigint NOT NULL,
  last_report_at bigint,
  last_kid text,
  encryption_level text,
  revoked_at bigint,
  replaced_by bigint,
  duplicate_of bigint,
  flagged text,
  removed_at bigint
);
CREATE INDEX computers_by_host ON computers (host_identity);
CREATE TABLE reports (
  computer_id bigint NOT NULL,
  seq bigint NOT NULL,
  received_at bigint NOT NULL,
  encrypted smallint NOT NULL,
  kid text,
  body text NOT NULL,
  digest text NOT NULL,
  PRIMARY KEY (computer_id, seq)
);
CREATE TABLE encryption_keys (
  kid text PRIMARY KEY,
  spki text NOT NULL,
  bits integer NOT NULL,
  role text NOT NULL,
  created_at bigint NOT NULL,
  deployed_at bigint,
  retired_at bigint
);
CREATE TABLE documents (
  name text PRIMARY KEY,
  document text NOT NULL
);
CREATE TABLE document_serials (
  name text PRIMARY KEY,
  serial bigint NOT NULL
);
CREATE TABLE settings (
  serial bigserial PRIMARY KEY,
  computer_id bigint,
  document text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX settings_by_computer ON settings (computer_id);
CREATE TABLE bundle_senders (
  computer_id bigint PRIMARY KEY,
  allowed_at bigint NOT NULL
);
CREATE TABLE sealed_content_keys (
  computer_id bigint NOT NULL,
  kid text NOT NULL,
  wrapped_key_hash text NOT NULL,
  sealed bytea NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (computer_id, kid)
);
CREATE TABLE uploads (
  computer_id bigint NOT NULL,
  upload_id text NOT NULL,
  declared_name text NOT NULL,
  stored_name text,
  size bigint NOT NULL,
  sha256 text NOT NULL,
  chunk_size bigint NOT NULL,
  chunk_count bigint NOT NULL,
  encrypted smallint NOT NULL,
  kid text,
  manifest_digest text NOT NULL,
  state text NOT NULL,
  error text,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL,
  completed_at bigint,
  PRIMARY KEY (computer_id, upload_id)
);
CREATE INDEX uploads_by_state ON uploads (state);
`,
  },
  {
    version: 2,
    name: "registration claims on computers (claims_to_replace, claim_signed_by_old_key)",
    ...columnsAdded("computers", [
      ["claims_to_replace", "INTEGER", "bigint"],
      ["claim_signed_by_old_key", "INTEGER NOT NULL DEFAULT 0", "smallint NOT NULL DEFAULT 0"],
    ]),
  },
  {
    version: 3,
    name: "uploads count the bytes received (received_bytes)",
    ...columnsAdded("uploads", [
      ["received_bytes", "INTEGER NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0"],
    ]),
  },
  {
    version: 4,
    name: "the web console: operators, the audit log, and the indexes of its queries",
    sqlite: `
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
    postgres: `
CREATE TABLE operators (
  name text PRIMARY KEY,
  role text NOT NULL,
  password_hash text NOT NULL,
  created_at bigint NOT NULL
);
CREATE TABLE audit_log (
  id bigserial PRIMARY KEY,
  at bigint NOT NULL,
  operator text NOT NULL,
  action text NOT NULL,
  detail text NOT NULL
);
CREATE INDEX computers_by_last_report ON computers (last_report_at);
CREATE INDEX computers_by_hostname ON computers (hostname);
CREATE INDEX computers_by_last_kid ON computers (last_kid);
CREATE INDEX reports_by_received_at ON reports (received_at);
`,
  },
  {
    version: 5,
    name: "the searchable text of each computer's last report (search_text), backfilled",
    // The stores write it with searchTextFor() (store/report_search_text.ts); the backfill
    // takes the same values with SQLite's JSON functions (control characters kept as they are).
    sqlite: `
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
    // The same values with jsonb (a list as its JSON text), skipping a body jsonb cannot hold
    // (an escaped NUL or lone surrogate): that computer's next report fills it in.
    postgres: `
ALTER TABLE computers ADD COLUMN search_text text;
UPDATE computers SET search_text = found.text FROM (
  SELECT last.computer_id, left(string_agg(v.value, chr(10)), 4096) AS text
  FROM (SELECT DISTINCT ON (computer_id) computer_id, body FROM reports
    ORDER BY computer_id, seq DESC) AS last
  CROSS JOIN LATERAL (SELECT CASE WHEN last.body !~ '\\\\u(0000|[dD][89a-fA-F])'
    THEN last.body::jsonb END AS doc) AS parsed
  CROSS JOIN LATERAL (
    SELECT value FROM jsonb_each_text(CASE WHEN jsonb_typeof(parsed.doc -> 'properties') = 'object'
      THEN parsed.doc -> 'properties' END)
    UNION ALL
    SELECT value FROM jsonb_each_text(CASE WHEN jsonb_typeof(parsed.doc -> 'custom') = 'object'
      THEN parsed.doc -> 'custom' END)
  ) AS v
  GROUP BY last.computer_id
) AS found WHERE computers.id = found.computer_id;
`,
  },
  {
    version: 6,
    name: "servers sharing the database (servers), where each upload landed (uploads.server)",
    // One server per SQLite file, but the same records as PostgreSQL's, so the admin tool shows
    // the same columns (SQLite has no notifications: servers poll it).
    sqlite: `
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
    // PostgreSQL also announces changes that servers cache (a computer's state, the keys, the
    // documents) on the channel "mle_changes", whoever makes them: another server, the admin tool
    // or psql. Updates of a computer's last report do not, so reports cost no notification.
    postgres: `
CREATE TABLE servers (
  name text PRIMARY KEY,
  url text NOT NULL,
  started_at bigint NOT NULL,
  last_seen_at bigint NOT NULL,
  stopped_at bigint,
  kids text NOT NULL
);
ALTER TABLE uploads ADD COLUMN server text;
CREATE FUNCTION mle_notify_computer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mle_changes', 'computer:' || NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER computers_changed AFTER UPDATE ON computers FOR EACH ROW
  WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
    OR OLD.replaced_by IS DISTINCT FROM NEW.replaced_by
    OR OLD.duplicate_of IS DISTINCT FROM NEW.duplicate_of
    OR OLD.removed_at IS DISTINCT FROM NEW.removed_at
    OR OLD.flagged IS DISTINCT FROM NEW.flagged
    OR OLD.claims_to_replace IS DISTINCT FROM NEW.claims_to_replace)
  EXECUTE FUNCTION mle_notify_computer();
CREATE FUNCTION mle_notify_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mle_changes', 'keys');
  RETURN NULL;
END $$;
CREATE TRIGGER encryption_keys_changed AFTER INSERT OR UPDATE OR DELETE ON encryption_keys
  FOR EACH STATEMENT EXECUTE FUNCTION mle_notify_keys();
CREATE TRIGGER documents_changed AFTER INSERT OR UPDATE OR DELETE ON documents
  FOR EACH STATEMENT EXECUTE FUNCTION mle_notify_keys();
`,
  },
  {
    version: 7,
    name: "the last sequence number a replaced computer's hand-over named (handover_last_seq)",
    ...columnsAdded("computers", [
      ["handover_last_seq", "INTEGER NOT NULL DEFAULT 0", "bigint NOT NULL DEFAULT 0"],
    ]),
  },
  {
    version: 8,
    name: "decrypting relays and the keys they hold (decrypting_relays)",
    // Each allowed decrypting relay's signed record of itself (server/relay_record_route.ts), read
    // by `mle-admin encryption status` and `deploy` (kids: the key ids it holds).
    sqlite: `
CREATE TABLE decrypting_relays (
  computer_id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  url TEXT NOT NULL,
  last_seen_at INTEGER NOT NULL,
  kids TEXT NOT NULL
);
`,
    postgres: `
CREATE TABLE decrypting_relays (
  computer_id bigint PRIMARY KEY,
  name text NOT NULL,
  url text NOT NULL,
  last_seen_at bigint NOT NULL,
  kids text NOT NULL
);
`,
  },
];

/** The SQLite migrations, oldest first. */
export const SQLITE_MIGRATIONS: readonly Migration[] = SCHEMA_STEPS.map(
  ({ version, name, sqlite }) => ({ version, name, sql: sqlite }),
);

/** The PostgreSQL migrations, oldest first. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = SCHEMA_STEPS.map(
  ({ version, name, postgres }) => ({ version, name, sql: postgres }),
);

/**
 * The version of a file made before migrations were numbered (it has tables but no
 * `schema_migrations`), once migration 1 (all `IF NOT EXISTS`) has filled in any table it
 * lacked: 2 when its computers already have the claim columns, else 1.
 */
export function adoptedVersion(computerColumns: readonly string[]): number {
  return computerColumns.includes("claims_to_replace") ? 2 : 1;
}
