// Pages are rendered once on the server and never reconciled, so list items need no keys.
// deno-lint-ignore-file jsx-key
/**
 * The console's site-wide pages: the overview (computers by level, key and state, reports per
 * hour, relays and keys, with inline SVG charts), the keys (state, clients per key, who holds
 * each, whether it can be retired and why not), relays allowed to send bundles with the
 * revocation list and site-wide settings, and the audit log (admins only).
 *
 * @module
 */

import { Hono } from "hono";
import { ENCRYPTION_LEVEL_SETTING } from "../../protocol/encryption_level.ts";
import {
  type ConsoleDeps,
  type ConsoleEnv,
  encryptionUnavailableSince,
  storedPayload,
} from "./console_env.ts";
import { SigningForm } from "./decision_forms.tsx";
import { BarList, Command, HourChart, Layout, TableHead, timeText } from "./layout.tsx";

/** The window in which a key's use keeps it from being retired (as `mle-admin encryption retire`). */
const RETIRE_WINDOW_MS = 7 * 86_400_000;

/** The site-wide pages, mounted at `/`. */
export function sitePages(deps: ConsoleDeps): Hono<ConsoleEnv> {
  const app = new Hono<ConsoleEnv>();
  const { store } = deps;

  app.get("/", async (c) => {
    const now = deps.now();
    const heldSince = await encryptionUnavailableSince(store);
    const summary = await store.summarizeComputers(heldSince);
    const perHour = await store.reportsPerHour(now - 24 * 3_600_000);
    const keys = await store.listEncryptionKeys();
    const relays = await store.listBundleSenders();
    const encrypting = Object.entries(summary.byKid)
      .filter(([kid]) => kid !== "clear" && kid !== "none")
      .reduce((sum, [, n]) => sum + n, 0);
    return c.html(
      <Layout context={c.get("page")} title="Overview" current="/">
        <div class="cards">
          <div class="card">
            <h2>Computers</h2>
            <div class="figure" id="computers-total">{summary.total}</div>
            <p>
              <span id="encrypting">{encrypting}</span> encrypt now;{" "}
              <span id="clear">{summary.byKid.clear ?? 0}</span> send clear text;{" "}
              {summary.byKid.none ?? 0} never reported
            </p>
            <p>
              <span class="badge warn" id="held">{summary.byState.held} held</span>{" "}
              (level required while encryption is {heldSince === null ? "available" : "unavailable"}
              {heldSince !== null && heldSince !== Number.MAX_SAFE_INTEGER
                ? `: orphaned since ${timeText(heldSince)}`
                : ""})
            </p>
            <p>
              {summary.byState.revoked} revoked, {summary.byState.replaced} replaced,{" "}
              {summary.byState.duplicate} duplicates, {summary.byState.flagged} flagged
            </p>
          </div>
          <div class="card">
            <h2>By encryption level</h2>
            <BarList entries={Object.entries(summary.byLevel)} />
          </div>
          <div class="card">
            <h2>By key of the last report</h2>
            <BarList entries={Object.entries(summary.byKid)} />
          </div>
          <div class="card">
            <h2>Reports per hour (24 h)</h2>
            <HourChart perHour={perHour} now={now} hours={24} />
          </div>
          <div class="card">
            <h2>Keys</h2>
            {keys.length === 0 ? <p class="muted">No MLE key yet.</p> : (
              <ul>
                {keys.map((k) => (
                  <li>
                    <span class="mono">{k.kid.slice(0, 12)}</span> {k.role}
                  </li>
                ))}
              </ul>
            )}
          </div>
          <div class="card">
            <h2>Relays sending bundles</h2>
            <div class="figure">{relays.length}</div>
            <a href="/site">see them</a>
          </div>
        </div>
      </Layout>,
    );
  });

  app.get("/keys", async (c) => {
    const now = deps.now();
    const keys = await store.listEncryptionKeys();
    const summary = await store.summarizeComputers(null);
    const held = new Set(deps.heldKids());
    const rows = [];
    for (const key of keys) {
      const usage = key.role === "retired"
        ? []
        : await store.listKeyUsage(key.kid, now - RETIRE_WINDOW_MS);
      const retire = key.role === "current"
        ? "no: it is the current key (deploy another first)"
        : key.role === "retired"
        ? "retired"
        : usage.length > 0
        ? `no: ${usage.length} computer(s) reported with it in the last 7 days`
        : "yes";
      rows.push({ key, clients: summary.byKid[key.kid] ?? 0, retire });
    }
    return c.html(
      <Layout context={c.get("page")} title="Keys" current="/keys">
        <table id="keys">
          <TableHead
            columns={[
              "Key id",
              "State",
              "Bits",
              "Clients (last report)",
              "Held by",
              "Can be retired?",
            ]}
          />
          <tbody>
            {rows.map(({ key, clients, retire }) => (
              <tr>
                <td class="mono">{key.kid}</td>
                <td>{key.role}</td>
                <td>{key.bits}</td>
                <td>{clients}</td>
                <td>
                  {held.has(key.kid) ? "this server" : "not this server"}; decrypting relays: not
                  reported to the server
                </td>
                <td>
                  {retire}
                  {retire === "yes"
                    ? (
                      <Command
                        text={`mle-admin encryption retire ${key.kid} --site-key license.pvk`}
                      />
                    )
                    : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <h2>Deploy or rotate</h2>
        <p class="muted">
          Generating and deploying keys writes private key files, so it is done with the admin tool
          on a host that holds the site key:
        </p>
        <Command text="mle-admin encryption generate --key-size max --site-key license.pvk" />
        <Command text="mle-admin encryption deploy --site-key license.pvk" />
      </Layout>,
    );
  });

  app.get("/site", async (c) => {
    const relays = await store.listBundleSenders();
    const revocationsText = await store.getDocument("revocations");
    const revocations = revocationsText === null ? null : storedPayload(revocationsText);
    const siteWide = (await store.listSettingsFor(0)).filter((r) => r.computerId === null);
    const isAdmin = c.get("page").session.role === "admin";
    return c.html(
      <Layout context={c.get("page")} title="Relays, revocations, settings" current="/site">
        <h2>Relays allowed to send bundles</h2>
        {relays.length === 0 ? <p class="muted">None.</p> : (
          <table>
            <tbody>
              {relays.map((r) => (
                <tr>
                  <td>
                    <a href={`/computers/${r.computerId}`}>computer {r.computerId}</a>
                  </td>
                  <td>allowed {timeText(r.allowedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <Command text="mle-admin relays allow ID --site-key license.pvk" />
        <h2>Revocation list</h2>
        {revocations === null ? <p class="muted">None published yet.</p> : (
          <p id="revocations">
            Serial {String(revocations.serial ?? "none")}, issued{" "}
            {timeText(typeof revocations.issuedAt === "number" ? revocations.issuedAt : null)}:
            revoked computers {JSON.stringify(revocations.revoked)}; retired keys{" "}
            {JSON.stringify(revocations.retiredKeys ?? [])}
          </p>
        )}
        <h2>Site-wide settings in force</h2>
        {siteWide.length === 0 ? <p class="muted">None.</p> : (
          <table>
            <tbody>
              {siteWide.map((record) => (
                <tr>
                  <td>#{record.serial}</td>
                  <td class="mono">
                    {JSON.stringify(storedPayload(record.document)?.settings ?? "unreadable")}
                  </td>
                  <td>{timeText(record.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {isAdmin
          ? (
            <>
              <h3>Set the encryption level of every computer</h3>
              <SigningForm kind="settings" computer="all" label="Sign and set for all">
                <select data-setting={ENCRYPTION_LEVEL_SETTING} aria-label="level">
                  {["required", "optional", "none"].map((l) => <option value={l}>{l}</option>)}
                </select>
              </SigningForm>
            </>
          )
          : null}
      </Layout>,
    );
  });

  app.get("/audit", async (c) => {
    const entries = await store.listAudit(200);
    return c.html(
      <Layout context={c.get("page")} title="Audit log" current="/audit">
        <table id="audit">
          <TableHead columns={["When", "Who", "What", "Details"]} />
          <tbody>
            {entries.map((e) => (
              <tr>
                <td>{timeText(e.at)}</td>
                <td>{e.operator}</td>
                <td>{e.action}</td>
                <td>{e.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Layout>,
    );
  });

  return app;
}
