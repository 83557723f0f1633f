// Pages are rendered once on the server and never reconciled, so list items need no keys.
// deno-lint-ignore-file jsx-key
/**
 * The decisions the console lets an admin sign in the browser: the signing form (the site key
 * file and its password never leave the page) and one computer's cards (revoke, set its level,
 * confirm it, allow its bundles), each with the `mle-admin` command that does the same.
 *
 * @module
 */

import { ENCRYPTION_LEVEL_SETTING, ENCRYPTION_LEVELS } from "../../protocol/encryption_level.ts";
import type { ComputerDecisionAction } from "../../protocol/computer_decision.ts";
import type { ComputerRecord } from "../../store/mod.ts";
import { Command } from "./layout.tsx";

/** The decisions an admin can sign for one computer. */
export function ComputerDecisions(props: { computer: ComputerRecord; published: boolean }) {
  const c = props.computer;
  return (
    <>
      <h2>Decisions (signed in this browser with the site key)</h2>
      <div class="cards">
        {c.revokedAt === null || !props.published
          ? (
            <div class="card">
              <h3>Revoke computer {c.id}</h3>
              <SigningForm
                kind="revocations"
                computer={String(c.id)}
                label={`Revoke ${c.id}`}
                danger
              />
              <Command text={`mle-admin computers revoke ${c.id} --site-key license.pvk`} />
            </div>
          )
          : null}
        <div class="card">
          <h3>Set its encryption level</h3>
          <SigningForm kind="settings" computer={String(c.id)} label="Sign and set level">
            <select data-setting={ENCRYPTION_LEVEL_SETTING} aria-label="level">
              {ENCRYPTION_LEVELS.map((l) => <option value={l}>{l}</option>)}
            </select>
          </SigningForm>
          <Command
            text={`mle-admin settings set ${ENCRYPTION_LEVEL_SETTING}=required --computer ${c.id} --site-key license.pvk`}
          />
        </div>
        {c.flagged !== null
          ? (
            <div class="card">
              <h3>Confirm it</h3>
              <ComputerActionForm computer={c.id} action="confirm" label="Confirm" />
              <Command text={`mle-admin computers confirm ${c.id} --site-key license.pvk`} />
            </div>
          )
          : null}
        <div class="card">
          <h3>Let it send report bundles (a decrypting relay)</h3>
          <ComputerActionForm computer={c.id} action="allow-bundles" label="Allow its bundles" />
          <Command text={`mle-admin relays allow ${c.id} --site-key license.pvk`} />
          <ComputerActionForm
            computer={c.id}
            action="disallow-bundles"
            label="Stop allowing them"
          />
        </div>
      </div>
    </>
  );
}

/** The form that signs one action of a computer decision (`computer_decision.ts`). */
function ComputerActionForm(
  props: { computer: number; action: ComputerDecisionAction; label: string },
) {
  return (
    <SigningForm
      kind="computer"
      action={props.action}
      computer={String(props.computer)}
      label={props.label}
    />
  );
}

/**
 * A form the console script signs: the site key file and its password stay in the page (the
 * fields have no names, so nothing of them is ever submitted).
 */
export function SigningForm(
  props: {
    kind: "revocations" | "settings" | "computer";
    /** A computer decision's action. */
    action?: ComputerDecisionAction;
    computer: string;
    label: string;
    danger?: boolean;
    children?: unknown;
  },
) {
  return (
    <form
      class="sign-decision"
      data-kind={props.kind}
      data-action={props.action}
      data-computer={props.computer}
    >
      {props.children as never}
      <label>
        Site key (license.pvk) <input type="file" aria-label="site key file" />
      </label>
      <label>
        Its password <input type="password" autocomplete="off" aria-label="site key password" />
      </label>
      <button type="submit" class={props.danger ? "danger" : ""}>{props.label}</button>
      <p class="decision-result" role="status"></p>
      <noscript>Signing needs JavaScript; use the command below instead.</noscript>
    </form>
  );
}
