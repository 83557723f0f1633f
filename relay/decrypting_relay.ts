/**
 * Sets up `mle-relay run --decrypt`: the relay's keys, identity, trust anchor and the forwarder
 * that sends bundles.
 *
 * A decrypting relay must be top-level (its parent is the server) and should know the site's key
 * from the operator, not from the network: the masthead comes from `--masthead FILE` or from the
 * copy `mle-admin encryption import --data-dir RELAY_DIR` installed with the sealed key. Without
 * either it pins the parent's masthead on first use, with a warning: until then it bundles
 * nothing, and a forged masthead on that first contact would let someone else's key receive what
 * it decrypts, which is why the operator's copy is the recommended way.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { CliError } from "../cli/output.ts";
import { fetchJson, ParentUnreachableError } from "../protocol/bounded_fetch.ts";
import { readCapabilities } from "../protocol/capabilities.ts";
import { API } from "../protocol/paths.ts";
import { describeUnreachable } from "./_describe_unreachable.ts";
import { ClientPublicKeys } from "./client_public_keys.ts";
import { DecryptingForwarder } from "./decrypting_forwarder.ts";
import { KeyHolderRecord } from "./key_holder_record.ts";
import { PinnedMasthead } from "./pinned_masthead.ts";
import { RelayIdentity } from "./relay_identity.ts";
import { RelayKeyRing } from "./relay_key_ring.ts";
import type { RevocationList } from "./revocation_list.ts";
import type { UpstreamRefusals } from "./upstream_refusals.ts";
import type { ServerCertificate } from "./server_certificate.ts";
import type { Spool } from "./spool.ts";
import type { Upstream } from "./upstream.ts";

/** What `--decrypt` needs from the run's settings. */
export interface DecryptingRelaySettings {
  dataDir: string;
  parentUrl: string;
  mastheadFile?: string;
  concurrency: number | undefined;
  bundleMax: number;
  bundleWaitMs: number;
}

/** A decrypting relay's forwarder and the client keys it learned, to check reports on arrival. */
export interface DecryptingRelay {
  /** The forwarder (not started). */
  forwarder: DecryptingForwarder;
  /** The clients' public keys asked of the parent so far. */
  clientKeys: ClientPublicKeys;
  /** The relay's record of the keys it holds, at its server (not started). */
  keyHolderRecord: KeyHolderRecord;
}

/**
 * Opens everything a decrypting relay needs.
 *
 * @throws {CliError} Without a pinned masthead, or when the parent is another relay.
 */
export async function openDecryptingRelay(
  settings: DecryptingRelaySettings,
  spool: Spool,
  trust: {
    revocations: Pick<RevocationList, "isKeyRetired">;
    refusals: UpstreamRefusals;
    /** The relay's one holder of the newest certificate, also served to its children. */
    certificate: ServerCertificate;
    /** The relay's parents in order (default: `settings.parentUrl` alone). */
    upstream?: Upstream;
  },
  log: Logger,
): Promise<DecryptingRelay> {
  const masthead = await PinnedMasthead.open({
    dataDir: settings.dataDir,
    mastheadFile: settings.mastheadFile,
    log,
  });
  if (masthead.siteKey === null) {
    log.warn(
      "no masthead is pinned: the parent's is pinned on first use (trusting the network once)",
      { hint: "give --masthead FILE (the site's masthead.json) to check the server's certificate" },
    );
  }
  await checkParentIsServer(settings.parentUrl, log);
  const keys = await RelayKeyRing.open({ dataDir: settings.dataDir, log });
  if (keys.kids.length === 0) {
    log.warn(
      'no key in "Encryption Keys" yet: every report is forwarded untouched until one is imported',
      { hint: "mle-admin encryption import --from DIR --data-dir RELAY_DIR" },
    );
  }
  const identity = await RelayIdentity.open(settings.dataDir);
  if (identity.computerId === null) {
    // Early, so that the operator can allow the relay before the first bundle; not fatal.
    try {
      const outcome = await identity.register(trust.upstream ?? settings.parentUrl, log);
      if (!outcome.ok) {
        log.warn("the parent refused the relay's registration; retrying later", {
          status: outcome.status,
          code: outcome.code,
        });
      }
    } catch (error) {
      if (!(error instanceof ParentUnreachableError)) throw error;
      log.warn("cannot register with the parent yet", { reason: describeUnreachable(error) });
    }
  } else {
    log.info(`relay is computer ${identity.computerId}`, { computerId: identity.computerId });
  }
  const clientKeys = new ClientPublicKeys({
    parentUrl: trust.upstream ?? settings.parentUrl,
    identity,
  });
  log.info("decrypting", {
    keys: keys.kids.length,
    site: masthead.siteName,
    bundleMax: settings.bundleMax,
    bundleWaitMs: settings.bundleWaitMs,
  });
  const forwarder = new DecryptingForwarder({
    spool,
    parentUrl: trust.upstream ?? settings.parentUrl,
    keys,
    retiredKeys: trust.revocations,
    refusals: trust.refusals,
    identity,
    clientKeys,
    certificate: trust.certificate,
    log,
    bundleMax: settings.bundleMax,
    bundleWaitMs: settings.bundleWaitMs,
    concurrency: settings.concurrency,
  });
  const parentUrl = trust.upstream ?? settings.parentUrl;
  const keyHolderRecord = new KeyHolderRecord({ parentUrl, identity, kids: () => keys.kids, log });
  return { forwarder, clientKeys, keyHolderRecord };
}

/** Refuses a parent that says it is a relay: bundles go to the server only. */
async function checkParentIsServer(parentUrl: string, log: Logger): Promise<void> {
  let answer;
  try {
    answer = await fetchJson(`${parentUrl}${API.capabilities}`, {
      redirect: "manual",
      timeoutMs: 5_000,
      maxBytes: 64 * 1024,
    });
  } catch (error) {
    if (!(error instanceof ParentUnreachableError)) throw error;
    log.warn("cannot ask the parent what it is; assuming the server", {
      reason: describeUnreachable(error),
    });
    return;
  }
  if (answer.status === 200 && readCapabilities(answer.body).role === "relay") {
    throw new CliError(
      `Cannot decrypt: the parent ${parentUrl} is a relay, and only a top-level relay decrypts`,
      { hint: "give --parent the server's URL, or run this relay without --decrypt" },
    );
  }
}
