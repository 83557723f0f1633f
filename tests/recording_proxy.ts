/**
 * Test support: a TCP proxy on 127.0.0.1 that records every byte crossing it in both directions,
 * so tests assert on what was really on the wire, not on a role's own view of it.
 *
 * @module
 */

/** A running recording proxy. */
export class RecordingProxy {
  readonly port: number;
  /** When each connection arrived (ms since the epoch), cut ones included, oldest first. */
  readonly connectedAt: number[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #chunks: Uint8Array[] = [];
  readonly #connections = new Set<Deno.Conn>();
  readonly #accepting: Promise<void>;
  #cut = false;
  #closed = false;

  constructor(targetPort: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accepting = this.#accept(targetPort);
  }

  /** Everything that crossed, both directions, concatenated. */
  get bytes(): Uint8Array {
    const size = this.#chunks.reduce((sum, c) => sum + c.length, 0);
    const all = new Uint8Array(size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      all.set(chunk, offset);
      offset += chunk.length;
    }
    return all;
  }

  /** What crossed, as latin1 text (byte for byte). */
  get text(): string {
    let text = "";
    for (const chunk of this.#chunks) {
      for (let i = 0; i < chunk.length; i += 8192) {
        text += String.fromCharCode(...chunk.subarray(i, i + 8192));
      }
    }
    return text;
  }

  /**
   * Cuts the link, as a network split would: open connections are closed and new ones are closed
   * as soon as they are accepted, until {@linkcode RecordingProxy.restore}.
   */
  cut(): void {
    this.#cut = true;
    for (const conn of this.#connections) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.#connections.clear();
  }

  /** Ends a {@linkcode RecordingProxy.cut}: connections go through again. */
  restore(): void {
    this.#cut = false;
  }

  /** Forgets what was recorded so far. */
  clear(): void {
    this.#chunks.length = 0;
  }

  /** Stops listening and closes every open connection; closing again changes nothing. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#listener.close();
      for (const conn of this.#connections) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
    await this.#accepting.catch(() => {});
  }

  /** Closes the proxy at the end of the scope that holds it (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #accept(targetPort: number): Promise<void> {
    for await (const inbound of this.#listener) {
      this.connectedAt.push(Date.now());
      if (this.#cut) {
        inbound.close();
        continue;
      }
      this.#connections.add(inbound);
      Deno.connect({ hostname: "127.0.0.1", port: targetPort }).then((outbound) => {
        this.#connections.add(outbound);
        this.#pipe(inbound, outbound);
        this.#pipe(outbound, inbound);
      }, () => inbound.close());
    }
  }

  async #pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        this.#chunks.push(chunk);
        let written = 0;
        while (written < n) written += await to.write(chunk.subarray(written));
      }
    } catch {
      // a side closed
    } finally {
      for (const conn of [from, to]) {
        try {
          conn.close();
        } catch {
          // already closed
        }
        this.#connections.delete(conn);
      }
    }
  }
}

/** A canary labelled `label`: a string unique to this run, to look for on the wires and disks. */
export function randomCanary(label: string): string {
  return `CANARY-${label}-${crypto.randomUUID()}`;
}

/**
 * The client flags of a report at encryption `level` that carries `canary` as its custom property
 * `Secret` (to look for with {@linkcode containsCanary}).
 */
export function canaryReportArgs(canary: string, level = "required"): string[] {
  return ["--encryption", level, "--property", `Secret=${canary}`];
}

/**
 * True when `haystack` holds the canary in clear or base64url-encoded at any alignment (a clear
 * JWS carries its payload in base64url).
 */
export function containsCanary(haystack: string, canary: string): boolean {
  if (haystack.includes(canary)) return true;
  const bytes = new TextEncoder().encode(canary);
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + bytes.length);
    padded.set(bytes, shift);
    const encoded = padded.toBase64({ alphabet: "base64url", omitPadding: true });
    // Drop the characters that depend on neighbouring bytes.
    const core = encoded.slice(Math.ceil((shift * 4) / 3) + 1, -2);
    if (core.length >= 8 && haystack.includes(core)) return true;
  }
  return false;
}

/** Reads every file under a folder as latin1 text, concatenated (for "nothing on disk" checks). */
export async function readTree(path: string): Promise<string> {
  let text = "";
  for await (const entry of Deno.readDir(path)) {
    const full = `${path}/${entry.name}`;
    if (entry.isDirectory) text += await readTree(full);
    else if (entry.isFile) {
      // A running role renames its temporary files into place: one listed may be gone already.
      const bytes = await Deno.readFile(full).catch((error) => {
        if (error instanceof Deno.errors.NotFound) return new Uint8Array();
        throw error;
      });
      for (let i = 0; i < bytes.length; i += 8192) {
        text += String.fromCharCode(...bytes.subarray(i, i + 8192));
      }
    }
  }
  return text;
}
