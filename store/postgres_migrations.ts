/**
 * The PostgreSQL schema, as numbered migrations (`migrations.ts`): migration N makes the same
 * change as SQLite's migration N. Times are milliseconds since the epoch (`bigint`), flags 0/1
 * (`smallint`), so both backends give the same rows (`_rows.ts`).
 *
 * @module
 */

import type { Migration } from "./migrations.ts";

/** The PostgreSQL migrations, oldest first. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name:
      "computers, reports, keys, documents, settings, bundle senders, sealed content keys, uploads",
    sql: `
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
    sql: `
ALTER TABLE computers ADD COLUMN claims_to_replace bigint;
ALTER TABLE computers ADD COLUMN claim_signed_by_old_key smallint NOT NULL DEFAULT 0;
`,
  },
  {
    version: 3,
    name: "uploads count the bytes received (received_bytes)",
    sql: `
ALTER TABLE uploads ADD COLUMN received_bytes bigint NOT NULL DEFAULT 0;
`,
  },
  {
    version: 4,
    name: "the web console: operators, the audit log, and the indexes of its queries",
    sql: `
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
    // The stores write it with reportSearchText() (store/report_search_text.ts); the backfill
    // takes the same values with jsonb (a list as its JSON text), skipping a body jsonb cannot
    // hold (an escaped NUL or lone surrogate): that computer's next report fills it in.
    sql: `
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
    // PostgreSQL also announces changes that servers cache (a computer's state, the keys, the
    // documents) on the channel "mle_changes", whoever makes them: another server, the admin tool
    // or psql. Updates of a computer's last report do not, so reports cost no notification.
    sql: `
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
    sql: `
ALTER TABLE computers ADD COLUMN handover_last_seq bigint NOT NULL DEFAULT 0;
`,
  },
];
