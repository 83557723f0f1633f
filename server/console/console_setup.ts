/**
 * `mle-server run`'s console flags and the console's listener: its own address (127.0.0.1 by
 * default, never the port clients reach), optionally TLS, the session idle time, and the site
 * key read from the server's masthead to verify decisions signed in the browser.
 *
 * @module
 */

import { parseDuration } from "../../cli/duration.ts";
import { parseListenAddress } from "../../cli/listen_address.ts";
import type { Logger } from "../../cli/log.ts";
import { UsageError } from "../../cli/output.ts";
import { checkOwnerOnlyFile } from "../../keystore/secure_file.ts";
import { verifyMasthead } from "../../protocol/masthead.ts";
import { DEFAULT_CONSOLE_PORT } from "../../protocol/paths.ts";
import type { Store } from "../../store/mod.ts";
import type { KeyRing } from "../key_ring.ts";
import { createConsoleApp } from "./console_app.ts";
import type { ConsoleDeps } from "./console_env.ts";
import { DEFAULT_SESSION_LIMITS } from "./console_sessions.ts";

const DEFAULT_CONSOLE_LISTEN = `127.0.0.1:${DEFAULT_CONSOLE_PORT}`;

/** The console's flags, for `parseArgs`. */
export const CONSOLE_OPTIONS = {
  "console-listen": { type: "string", default: DEFAULT_CONSOLE_LISTEN },
  "console-tls-cert": { type: "string" },
  "console-tls-key": { type: "string" },
  "console-session-idle": { type: "string", default: "30m" },
} as const;

/** The console's flags in `mle-server run --help`. */
export const CONSOLE_OPTIONS_HELP =
  `  --console-listen HOST:PORT     the web console for operators (mle-admin operators add), on
                                 its own listener, never the clients' port (default
                                 ${DEFAULT_CONSOLE_LISTEN}: this host only); port 0 picks a
                                 free port, which the log names; "off" serves no console
  --console-tls-cert FILE        serve the console over HTTPS with this PEM certificate chain
  --console-tls-key FILE         and this PEM private key (only its owner may read it)
  --console-session-idle TIME    a console session ends after this long without a request
                                 (default 30m; at most 12h after sign-in)`;

/** What the console listener needs from the server. */
export interface ConsoleSetup {
  store: Store;
  keys: KeyRing;
  log: Logger;
  /** The masthead's JSON text: its site key verifies decisions. */
  masthead: string;
  /** The port clients reach, which the console must not share. */
  clientPort: number;
  /** The uploads' records and folders, for each computer's uploads. */
  uploads?: ConsoleDeps["uploads"];
}

/**
 * Starts the console's listener, or returns null when `--console-listen off`.
 *
 * @throws {UsageError} For a bad address, the clients' port, a certificate without a key, or a
 * bad session time.
 */
export async function startConsole(
  values: {
    "console-listen"?: string;
    "console-tls-cert"?: string;
    "console-tls-key"?: string;
    "console-session-idle"?: string;
  },
  setup: ConsoleSetup,
): Promise<Deno.HttpServer | null> {
  const listenText = values["console-listen"] ?? DEFAULT_CONSOLE_LISTEN;
  if (listenText === "off") return null;
  const listen = parseListenAddress(listenText);
  if (listen.port !== 0 && listen.port === setup.clientPort) {
    throw new UsageError(
      `Cannot serve the console on the port clients reach (${listen.port})`,
      `give --console-listen another port (default ${DEFAULT_CONSOLE_LISTEN})`,
    );
  }
  const certFile = values["console-tls-cert"];
  const keyFile = values["console-tls-key"];
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError(
      "Cannot serve the console over TLS with only one of --console-tls-cert and --console-tls-key",
      "give both",
    );
  }
  let idleMs: number;
  try {
    idleMs = parseDuration(values["console-session-idle"] ?? "30m");
  } catch (error) {
    throw new UsageError(`--console-session-idle: ${(error as Error).message}`);
  }
  let tls: { cert: string; key: string } | undefined;
  if (certFile !== undefined && keyFile !== undefined) {
    await checkOwnerOnlyFile(keyFile, "console TLS key");
    tls = { cert: await Deno.readTextFile(certFile), key: await Deno.readTextFile(keyFile) };
  }
  const { masthead, siteKey } = await verifyMasthead(JSON.parse(setup.masthead));
  const app = createConsoleApp({
    store: setup.store,
    heldKids: () => setup.keys.kids,
    siteKey,
    siteKeyText: masthead.sitePublicKey,
    siteName: masthead.siteName,
    secure: tls !== undefined,
    sessionLimits: { ...DEFAULT_SESSION_LIMITS, idleMs },
    log: setup.log,
    now: Date.now,
    uploads: setup.uploads,
  });
  const scheme = tls ? "https" : "http";
  return Deno.serve({
    hostname: listen.hostname,
    port: listen.port,
    ...tls,
    onListen: ({ hostname, port }) => {
      const host = hostname.includes(":") ? `[${hostname}]` : hostname;
      setup.log.info(`console listener on ${scheme}://${host}:${port}`);
      const loopback = hostname === "localhost" || hostname === "::1" ||
        hostname.startsWith("127.");
      if (!loopback && !tls) {
        setup.log.warn(
          "the console is reachable from other hosts without TLS: passwords and session cookies " +
            "cross the network in clear; give --console-tls-cert and --console-tls-key",
        );
      }
    },
  }, app.fetch);
}
