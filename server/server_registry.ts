/**
 * This server's record in the shared store (`store/server_records.ts`): its name, its URL and the
 * MLE keys whose private halves load here, written at start, at every heartbeat and whenever the
 * loaded keys change, so that `mle-admin encryption status` shows which server holds which key
 * and `deploy` refuses a key a live server lacks.
 *
 * @module
 */

import type { Logger } from "../cli/log.ts";
import { SERVER_HEARTBEAT_MS, type ServerRecord } from "../store/server_records.ts";
import type { Store } from "../store/store.ts";

/** How this server is named in the store and where it is reached. */
export interface ServerIdentity {
  name: string;
  url: string;
}

/**
 * The identity from `--server-name` and `--server-url`: by default `HOST:PORT`, HOST being the
 * host's name when the environment gives it (`HOSTNAME`, `COMPUTERNAME`), else the listen
 * address; the URL by default `http://` and the name.
 *
 * @throws {RangeError} For an empty or overlong name, or a URL that is not http(s).
 * @example
 * ```ts
 * import { serverIdentity } from "./server_registry.ts";
 * const identity = serverIdentity({}, { hostname: "10.0.0.5", port: 52311 }, {});
 * console.log(identity.name); // "10.0.0.5:52311"
 * ```
 */
export function serverIdentity(
  given: { name?: string; url?: string },
  listen: { hostname: string; port: number },
  env: { HOSTNAME?: string; COMPUTERNAME?: string },
): ServerIdentity {
  const host = env.HOSTNAME || env.COMPUTERNAME || listen.hostname;
  const name = given.name ?? `${host}:${listen.port}`;
  if (!/^[\x21-\x7e]{1,200}$/.test(name)) {
    throw new RangeError(`Cannot use server name "${name}": expected 1 to 200 visible characters`);
  }
  const url = given.url ?? `http://${name}`;
  if (!/^https?:\/\/[\x21-\x7e]{1,500}$/.test(url)) {
    throw new RangeError(`Cannot use server URL "${url}": expected http://HOST:PORT`);
  }
  return { name, url };
}

/** Options of a registry. */
export interface ServerRegistryOptions {
  store: Store;
  identity: ServerIdentity;
  /** The key ids whose private key is loaded now (`KeyRing.kids`). */
  loadedKids: () => string[];
  /** The key ids of this site that it could not load here (`KeyRing.unusableKids`). */
  unusableKids: () => string[];
  log: Logger;
  now?: () => number;
}

/** Keeps this server's record in the store current. */
export class ServerRegistry {
  readonly #options: ServerRegistryOptions;
  readonly #now: () => number;
  readonly #startedAt: number;
  #recordedKeys: string | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ServerRegistryOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
  }

  /** Records this server now, then every heartbeat until {@linkcode ServerRegistry.stop}. */
  async start(): Promise<void> {
    await this.beat();
    this.#timer = setInterval(() => {
      this.beat().catch((error) =>
        this.#options.log.warn("cannot record this server in the store", {
          cause: (error as Error).message,
        })
      );
    }, SERVER_HEARTBEAT_MS);
  }

  /** Records this server as seen now, with the keys loaded now. */
  async beat(stoppedAt: number | null = null): Promise<void> {
    const keys = this.#keysNow();
    const record: ServerRecord = {
      name: this.#options.identity.name,
      url: this.#options.identity.url,
      startedAt: this.#startedAt,
      lastSeenAt: this.#now(),
      stoppedAt,
      kids: [...this.#options.loadedKids()].sort(),
    };
    await this.#options.store.recordServer(record);
    this.#recordedKeys = keys;
  }

  /**
   * Records this server again at once if the keys it tried changed since the last record: one it
   * loaded, or one it could not (so that `deploy` learns soon that this server lacks a new key).
   */
  async noteKeys(): Promise<void> {
    if (this.#keysNow() !== this.#recordedKeys) await this.beat();
  }

  /** Stops the heartbeat and records that this server stopped (it is no longer live). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.beat(this.#now());
  }

  #keysNow(): string {
    const { loadedKids, unusableKids } = this.#options;
    return `${[...loadedKids()].sort().join(" ")}|${[...unusableKids()].sort().join(" ")}`;
  }
}
