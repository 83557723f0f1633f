/**
 * The parents the site chose for its relays: the site-signed settings `__RelayServer1`,
 * `__RelayServer2` and `_BESClient_RelaySelect_ResistFailureIntervalSeconds`, read the way
 * clients read them (`parentChoice` in `protocol/parent_list.ts`), so that an operator re-homes
 * relays centrally (`mle-admin settings set`); the relay's `--parent` flags stay the order after
 * them, and the masthead's servers the last resort.
 *
 * A relay is not a computer the operator targets: it applies only documents for "all" computers,
 * verified against its pinned masthead (a document a parent forges or alters is ignored), the
 * newest winning per setting (`mergeSettings`), so a parent withholding a newer document once
 * cannot bring an older order back for good. It asks for them with a computer id no computer has
 * ({@linkcode SITE_WIDE_SETTINGS_COMPUTER}), so the answer carries the site-wide documents only.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { MAX_DOCUMENT_BYTES } from "../protocol/limits.ts";
import {
  parentChoice,
  RELAY_SERVER_SETTINGS,
  RESIST_FAILURE_SETTING,
} from "../protocol/parent_list.ts";
import { API } from "../protocol/paths.ts";
import {
  type DeployedSettings,
  mergeSettings,
  type SettingsDocument,
  valuesInForce,
  verifySettingsDocument,
} from "../protocol/settings.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import type { PinnedMasthead } from "./pinned_masthead.ts";
import type { Upstream } from "./upstream.ts";

/** The computer id a relay asks settings for: the largest the protocol takes, never given out. */
export const SITE_WIDE_SETTINGS_COMPUTER = Number.MAX_SAFE_INTEGER;

/** Most settings documents read from one answer. */
const MAX_DOCUMENTS = 1_000;

/** Options of {@linkcode SiteParents}. */
export interface SiteParentsOptions {
  upstream: Upstream;
  /** The operator's `--parent` list, in order. */
  operatorParents: readonly string[];
  masthead: Pick<PinnedMasthead, "siteKey" | "serverUrls">;
  log: Logger;
  /** Time between two refreshes (the revocation interval). */
  intervalMs: number;
}

/**
 * Keeps the relay's parent order in step with the site's settings.
 *
 * @example
 * ```ts ignore
 * const site = new SiteParents({ upstream, operatorParents: ["http://a:52311"], masthead, log, intervalMs: 60_000 });
 * site.start();
 * ```
 */
export class SiteParents {
  readonly #options: SiteParentsOptions;
  #deployed: DeployedSettings = {};
  #timer: ReturnType<typeof setInterval> | undefined;
  #refreshing: Promise<void> | null = null;
  /** The site's settings of parents last applied, to log a change once. */
  #siteChoice = "  ";

  /** Orders the parents at once by the operator's list and the masthead's servers. */
  constructor(options: SiteParentsOptions) {
    this.#options = options;
    this.#apply();
  }

  /** Refreshes now, then every interval. */
  start(): void {
    if (this.#timer !== undefined) return;
    this.refresh();
    this.#timer = setInterval(() => this.refresh(), this.#options.intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Asks the parents for the site's settings once and applies the order; never throws. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#refresh().finally(() => this.#refreshing = null);
    return this.#refreshing;
  }

  async #refresh(): Promise<void> {
    const { upstream, masthead, log } = this.#options;
    try {
      const siteKey = masthead.siteKey;
      if (siteKey !== null) {
        const answer = await upstream.fetchJson(
          `${API.settings}?computer=${SITE_WIDE_SETTINGS_COMPUTER}`,
          { redirect: "manual", timeoutMs: 10_000, maxBytes: MAX_DOCUMENT_BYTES },
        );
        const documents = (answer.body as { documents?: unknown } | null)?.documents;
        if (answer.status === 200 && Array.isArray(documents)) {
          const verified: SettingsDocument[] = [];
          for (const document of documents.slice(0, MAX_DOCUMENTS)) {
            try {
              const body = await verifySettingsDocument(siteKey, document);
              if (body.computers === "all") verified.push(body);
            } catch (error) {
              log.warn("ignored a settings document", { reason: (error as Error).message });
            }
          }
          this.#deployed = mergeSettings(this.#deployed, verified);
        }
      }
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) {
        log.error("cannot read the site's settings", { error: (error as Error).message });
      } else log.debug("cannot read the site's settings", { reason: describeUnreachable(error) });
    }
    this.#apply();
  }

  /** Orders the parents by the settings in force, the operator's list and the masthead's. */
  #apply(): void {
    const { upstream, operatorParents, masthead, log } = this.#options;
    const values = valuesInForce(this.#deployed);
    const choice = parentChoice(values, operatorParents, masthead.serverUrls);
    upstream.parents.reorder(choice.parents, choice.resistFailureMs);
    const siteChoice = [...RELAY_SERVER_SETTINGS, RESIST_FAILURE_SETTING]
      .map((name) => Object.hasOwn(values, name) ? values[name] : "").join(" ");
    if (siteChoice !== this.#siteChoice) {
      this.#siteChoice = siteChoice;
      log.info("parents reordered by the site's settings", {
        parents: upstream.parents.parents.join(", "),
      });
    }
  }
}
