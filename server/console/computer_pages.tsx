// Pages are rendered once on the server and never reconciled, so list items need no keys.
// deno-lint-ignore-file jsx-key
/**
 * The console's computer pages: the list (searched, filtered, sorted and paged by the store, so a
 * page costs the same with 100,000 computers) and one computer (its last properties, its reports
 * page by page, its key history, the settings in force, and the decisions an admin can sign).
 *
 * @module
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { ENCRYPTION_LEVELS } from "../../protocol/encryption_level.ts";
import type { ComputerQuery, ComputerRecord, ComputerState } from "../../store/mod.ts";
import type { UploadRecord } from "../../store/upload_records.ts";
import {
  type ConsoleDeps,
  type ConsoleEnv,
  encryptionUnavailableSince,
  storedPayload,
} from "./console_env.ts";
import { ComputerDecisions } from "./decision_forms.tsx";
import { Layout, TableHead, timeText } from "./layout.tsx";

/** Computers per page of the list. */
export const COMPUTERS_PER_PAGE = 50;
/** Reports per page of a computer's reports. */
export const REPORTS_PER_PAGE = 20;
/** Most uploads a computer's page lists (the newest). */
export const MAX_UPLOADS_SHOWN = 200;

const STATES: ComputerState[] = [
  "active",
  "held",
  "revoked",
  "replaced",
  "duplicate",
  "flagged",
  "removed",
];
const LEVELS: readonly string[] = ENCRYPTION_LEVELS;
const AGES: Record<string, { label: string; ms: number; silent: boolean }> = {
  "1h": { label: "reported in the last hour", ms: 3_600_000, silent: false },
  "24h": { label: "reported in the last 24 hours", ms: 86_400_000, silent: false },
  "silent-24h": { label: "silent for 24 hours or more", ms: 86_400_000, silent: true },
  "silent-7d": { label: "silent for 7 days or more", ms: 7 * 86_400_000, silent: true },
};
const SORTS: ComputerQuery["sort"][] = ["id", "hostname", "lastReport", "registered"];

/** Reads the list's query string strictly; anything unknown is ignored, never passed on. */
function readListQuery(c: Context<ConsoleEnv>, now: number, heldSince: number | null) {
  const text = (name: string, max = 200) => {
    const value = c.req.query(name);
    return value === undefined || value === "" ? undefined : value.slice(0, max);
  };
  const level = text("level");
  const kid = text("kid");
  const state = text("state") as ComputerState | undefined;
  const age = text("age");
  const sort = text("sort") as ComputerQuery["sort"] | undefined;
  const page = Math.max(1, Math.min(1_000_000, Number.parseInt(text("page") ?? "1", 10) || 1));
  const ageRule = age !== undefined && Object.hasOwn(AGES, age) ? AGES[age] : undefined;
  const query: ComputerQuery = {
    search: text("q"),
    level: level !== undefined && LEVELS.includes(level) ? level : undefined,
    kid: kid !== undefined && /^([0-9a-f]{40}|clear|none)$/.test(kid) ? kid : undefined,
    state: state !== undefined && STATES.includes(state) ? state : undefined,
    heldSince,
    sort: sort !== undefined && SORTS.includes(sort) ? sort : "id",
    descending: text("order") === "desc",
    offset: (page - 1) * COMPUTERS_PER_PAGE,
    limit: COMPUTERS_PER_PAGE,
    ...(ageRule === undefined
      ? {}
      : ageRule.silent
      ? { silentSince: now - ageRule.ms }
      : { reportedSince: now - ageRule.ms }),
  };
  return { query, page, age: ageRule === undefined ? undefined : age };
}

/** The badges of a computer's state. */
function StateBadges(props: { computer: ComputerRecord }) {
  const c = props.computer;
  const badges: Array<[string, string]> = [];
  if (c.revokedAt !== null) badges.push(["revoked", "bad"]);
  if (c.replacedBy !== null) badges.push([`replaced by ${c.replacedBy}`, "warn"]);
  if (c.duplicateOf !== null) badges.push([`duplicate of ${c.duplicateOf}`, "warn"]);
  if (c.flagged !== null) badges.push(["flagged", "warn"]);
  if (c.removedAt !== null) badges.push(["removed", "bad"]);
  if (badges.length === 0) badges.push(["active", "good"]);
  return <>{badges.map(([label, kind]) => <span class={`badge ${kind}`}>{label}</span>)}</>;
}

/**
 * One drop-down of the list's filters: its `choices` as [value, text], after an empty value
 * reading `anyLabel` when given; the choice whose value is `selected` is shown selected.
 */
function FilterSelect(props: {
  label: string;
  name: string;
  anyLabel?: string;
  choices: Array<[string, string]>;
  selected: string | undefined;
}) {
  const choices = props.anyLabel === undefined
    ? props.choices
    : [["", props.anyLabel], ...props.choices];
  return (
    <label>
      {props.label}
      <select name={props.name}>
        {choices.map(([value, text]) => (
          <option value={value} selected={props.selected === value}>{text}</option>
        ))}
      </select>
    </label>
  );
}

function keyText(c: ComputerRecord): string {
  return c.lastReportAt === null ? "never reported" : c.lastKid ?? "clear text";
}

/** The computer pages, mounted at `/computers`. */
export function computerPages(deps: ConsoleDeps): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();

  app.get("/", async (c) => {
    const now = deps.now();
    const heldSince = await encryptionUnavailableSince(deps.store);
    const { query, page, age } = readListQuery(c, now, heldSince);
    const result = await deps.store.queryComputers(query);
    const pages = Math.max(1, Math.ceil(result.total / COMPUTERS_PER_PAGE));
    const link = (changes: Record<string, string>) => {
      const params = new URLSearchParams(c.req.query());
      for (const [name, value] of Object.entries(changes)) params.set(name, value);
      return `/computers?${params}`;
    };
    return c.html(
      <Layout context={c.get("page")} title="Computers" current="/computers">
        <form class="filters" method="get" action="/computers">
          <label>
            Search (id, hostname, property value)
            <input name="q" value={query.search ?? ""} maxlength={200} />
          </label>
          <FilterSelect
            label="Level"
            name="level"
            anyLabel="any"
            choices={LEVELS.map((l) => [l, l])}
            selected={query.level}
          />
          <label>
            Key id ("clear", "none")
            <input name="kid" value={query.kid ?? ""} maxlength={40} size={14} />
          </label>
          <FilterSelect
            label="State"
            name="state"
            anyLabel="any"
            choices={STATES.map((s) => [s, s])}
            selected={query.state}
          />
          <FilterSelect
            label="Last report"
            name="age"
            anyLabel="any time"
            choices={Object.entries(AGES).map(([value, rule]) => [value, rule.label])}
            selected={age}
          />
          <FilterSelect
            label="Sort"
            name="sort"
            choices={SORTS.map((s) => [s, s])}
            selected={query.sort}
          />
          <FilterSelect
            label="Order"
            name="order"
            choices={[["asc", "ascending"], ["desc", "descending"]]}
            selected={query.descending ? "desc" : undefined}
          />
          <button type="submit">Filter</button>
        </form>
        <p class="muted" id="result-count">
          {result.total} computer{result.total === 1 ? "" : "s"} match; page {page} of {pages}
        </p>
        <table id="computers">
          <TableHead
            columns={["ID", "Hostname", "Level", "Key of last report", "Last report", "State"]}
          />
          <tbody>
            {result.computers.map((computer) => (
              <tr data-computer={String(computer.id)}>
                <td>
                  <a href={`/computers/${computer.id}`}>{computer.id}</a>
                </td>
                <td>{computer.hostname ?? "-"}</td>
                <td>{computer.encryptionLevel ?? "-"}</td>
                <td class="mono">{keyText(computer)}</td>
                <td>{timeText(computer.lastReportAt)}</td>
                <td>
                  <StateBadges computer={computer} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="pager">
          {page > 1 ? <a href={link({ page: String(page - 1) })}>← previous</a> : null}
          {page < pages ? <a href={link({ page: String(page + 1) })}>next →</a> : null}
        </div>
      </Layout>,
    );
  });

  app.get("/:id{[0-9]{1,15}}", async (c) => {
    const id = Number(c.req.param("id"));
    const computer = await deps.store.getComputer(id);
    if (computer === null) {
      return c.html(
        <Layout context={c.get("page")} title={`No computer ${id}`} current="/computers">
          <p>
            No computer has id {id}. <a href="/computers">See the computers</a>.
          </p>
        </Layout>,
        404,
      );
    }
    const page = Math.max(1, Math.min(1_000_000, Number.parseInt(c.req.query("page") ?? "1") || 1));
    const [latest] = await deps.store.listReportsPage(id, 0, 1);
    const reports = await deps.store.listReportsPage(
      id,
      (page - 1) * REPORTS_PER_PAGE,
      REPORTS_PER_PAGE,
    );
    const total = await deps.store.countReportsOf(id);
    const body = latest === undefined ? null : parseReport(latest.body);
    const chain: number[] = [];
    for (let next = computer.replacedBy; next !== null && chain.length < 20;) {
      chain.push(next);
      next = (await deps.store.getComputer(next))?.replacedBy ?? null;
    }
    const settings = (await deps.store.listSettingsFor(id)).map((record) => ({
      record,
      body: storedPayload(record.document),
    }));
    const isAdmin = c.get("page").session.role === "admin";
    const uploads = deps.uploads === undefined
      ? null
      : (await deps.uploads.records.listUploads(id)).slice(-MAX_UPLOADS_SHOWN).reverse();
    const served = await deps.store.getDocument("revocations");
    const servedIds = served === null ? null : storedPayload(served)?.revoked;
    const published = Array.isArray(servedIds) && servedIds.includes(id);
    return c.html(
      <Layout
        context={c.get("page")}
        title={`Computer ${id}: ${computer.hostname ?? "no hostname"}`}
        current="/computers"
      >
        <div class="cards">
          <div class="card">
            <h2>State</h2>
            <p>
              <StateBadges computer={computer} />
            </p>
            <p>
              Level it last reported: <strong>{computer.encryptionLevel ?? "unknown"}</strong>
            </p>
            <p>
              Key of its last report:{" "}
              <span class="mono" id="computer-key">{keyText(computer)}</span>
            </p>
            <p>
              Registered {timeText(computer.registeredAt)}; last report{" "}
              {timeText(computer.lastReportAt)}
            </p>
          </div>
          <div class="card">
            <h2>Key history</h2>
            <p>
              Public key: <span class="mono">{computer.publicKey.slice(0, 16)}…</span>
            </p>
            {chain.length > 0
              ? <p>Replaced by: {chain.map((n) => <a href={`/computers/${n}`}>{n}</a>)}</p>
              : <p class="muted">Not replaced by a newer key.</p>}
            {computer.duplicateOf !== null
              ? (
                <p>
                  Duplicate of{" "}
                  <a href={`/computers/${computer.duplicateOf}`}>{computer.duplicateOf}</a>{" "}
                  (same host identity, no hand-over)
                </p>
              )
              : null}
            {computer.flagged !== null ? <p class="error">Flagged: {computer.flagged}</p> : null}
            {computer.claimsToReplace !== null
              ? (
                <p>
                  Claims to replace{" "}
                  <a href={`/computers/${computer.claimsToReplace}`}>{computer.claimsToReplace}</a>;
                  evidence: the old key {computer.claimSignedByOldKey ? "signed" : "did not sign"}
                  {" "}
                  for the new one.
                </p>
              )
              : null}
          </div>
        </div>
        <h2>Properties from the last report</h2>
        {body === null ? <p class="muted">No report yet.</p> : (
          <table id="properties">
            <tbody>
              {Object.entries({ ...body.properties, ...body.custom }).map(([name, value]) => (
                <tr>
                  <th>{name}</th>
                  <td>{Array.isArray(value) ? value.join(", ") : String(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <h2>Reports ({total})</h2>
        <table id="reports">
          <TableHead columns={["Seq", "Received", "Encrypted to"]} />
          <tbody>
            {reports.map((r) => (
              <tr>
                <td>{r.seq}</td>
                <td>{timeText(r.receivedAt)}</td>
                <td class="mono">{r.kid ?? "clear text"}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="pager">
          {page > 1 ? <a href={`/computers/${id}?page=${page - 1}`}>← newer</a> : null}
          {page * REPORTS_PER_PAGE < total
            ? <a href={`/computers/${id}?page=${page + 1}`}>older →</a>
            : null}
        </div>
        <h2>Settings documents for it</h2>
        {settings.length === 0
          ? <p class="muted">None: it uses its install-time values.</p>
          : (
            <table>
              <tbody>
                {settings.map(({ record, body }) => (
                  <tr>
                    <td>#{record.serial}</td>
                    <td>{record.computerId === null ? "all computers" : "this computer"}</td>
                    <td class="mono">{JSON.stringify(body?.settings ?? "unreadable")}</td>
                    <td>{timeText(record.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        <UploadList computerId={id} uploads={uploads} canDownload={isAdmin} />
        {isAdmin ? <ComputerDecisions computer={computer} published={published} /> : null}
      </Layout>,
    );
  });

  return app;
}

/** A computer's uploads, newest first; admins get a download link for each stored file. */
function UploadList(
  props: { computerId: number; uploads: UploadRecord[] | null; canDownload: boolean },
) {
  const { computerId, uploads } = props;
  return (
    <>
      <h2>Uploads</h2>
      {uploads === null || uploads.length === 0
        ? <p class="muted">{uploads === null ? "Uploads are not available here." : "None."}</p>
        : (
          <table id="uploads">
            <TableHead columns={["Name", "Size", "State", "SHA-256", "When", ""]} />
            <tbody>
              {uploads.map((u) => (
                <tr>
                  <td>{u.declaredName}</td>
                  <td>{u.size} bytes</td>
                  <td>{u.state}{u.error === null ? "" : `: ${u.error}`}</td>
                  <td class="mono">{u.sha256.slice(0, 16)}…</td>
                  <td>{timeText(u.completedAt ?? u.updatedAt)}</td>
                  <td>
                    {u.state === "complete" && props.canDownload
                      ? (
                        <a href={`/computers/${computerId}/uploads/${u.uploadId}/file`} download>
                          Download
                        </a>
                      )
                      : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      <p class="muted">
        Also listed by <span class="mono">mle-admin uploads list --computer {computerId}</span>{" "}
        on the server host.
      </p>
    </>
  );
}

function parseReport(
  text: string,
): { properties: Record<string, unknown>; custom: Record<string, unknown> } | null {
  try {
    const body = JSON.parse(text);
    return {
      properties: typeof body?.properties === "object" && body.properties !== null
        ? body.properties
        : {},
      custom: typeof body?.custom === "object" && body.custom !== null ? body.custom : {},
    };
  } catch {
    return null;
  }
}
