/**
 * Test support: runs a role as a real process, from source, with exactly the permission flags
 * its compiled executable has (`cli/role_permissions.ts`).
 *
 * @module
 */

import { type Role, ROLE_ENTRY, ROLE_PERMISSIONS } from "../cli/role_permissions.ts";

const ROOT = new URL("../", import.meta.url);

/** The command line that runs `role` from source. */
export function roleCommand(role: Role, args: string[]): { command: string; args: string[] } {
  return {
    command: Deno.execPath(),
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      ...ROLE_PERMISSIONS[role],
      new URL(ROLE_ENTRY[role], ROOT).pathname,
      ...args,
    ],
  };
}

/** What a finished process said. */
export interface RoleResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A role's exit code and output, for an assertion's message. */
export function describeResult(result: RoleResult): string {
  return `exit ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** Runs a role to completion and returns its exit code and output. */
export async function runRole(
  role: Role,
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; cwd?: string } = {},
): Promise<RoleResult> {
  const { command, args: fullArgs } = roleCommand(role, args);
  const child = new Deno.Command(command, {
    args: fullArgs,
    env: { NO_COLOR: "1", ...options.env },
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const output = await child.output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

const RELAY_TEST_ENV = { MLE_RELAY_OPS_LISTEN: "127.0.0.1:0" };

/** A role running in the background, for servers and relays. */
export class RoleProcess {
  readonly child: Deno.ChildProcess;
  #stdout = "";
  #stderr = "";
  readonly #done: Promise<Deno.CommandStatus>;
  #exited: Deno.CommandStatus | null = null;

  constructor(role: Role, args: string[], env: Record<string, string> = {}) {
    const { command, args: fullArgs } = roleCommand(role, args);
    this.child = new Deno.Command(command, {
      args: fullArgs,
      // Relays' operations listeners on free ports, so that several relays run side by side.
      env: { NO_COLOR: "1", ...(role === "relay" ? RELAY_TEST_ENV : {}), ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const collect = async (stream: ReadableStream<Uint8Array>, into: "out" | "err") => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        if (into === "out") this.#stdout += chunk;
        else this.#stderr += chunk;
      }
    };
    const readers = Promise.all([
      collect(this.child.stdout, "out"),
      collect(this.child.stderr, "err"),
    ]);
    this.#done = readers.then(() => this.child.status);
    this.child.status.then((status) => this.#exited = status);
  }

  /** How the process ended, or null while it runs. */
  get exited(): Deno.CommandStatus | null {
    return this.#exited;
  }

  get stdout(): string {
    return this.#stdout;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Waits (bounded) until stdout or stderr contains `text`. */
  async waitFor(text: string | RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const has = () => {
      const all = this.#stdout + this.#stderr;
      return typeof text === "string" ? all.includes(text) : text.test(all);
    };
    while (!has()) {
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out waiting for ${
            String(text)
          }\nstdout:\n${this.#stdout}\nstderr:\n${this.#stderr}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Waits (bounded) for the process to end on its own; fails naming its stderr. */
  async waitForExit(timeoutMs = 20_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`Timed out waiting for the process to end\nstderr:\n${this.#stderr}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.#done, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal and waits for the process to end. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
    return await this.#done;
  }

  /**
   * Stops the process (SIGTERM) at the end of the scope that holds it (`await using`); after an
   * explicit {@linkcode RoleProcess.stop} it only waits for the end it already has.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * Ports below the kernel's ephemeral range (32768-60999 on Linux), so a port handed out here is
 * never also given to a listener that binds port 0 (a server's operations or console listener)
 * between this call and the moment its role binds it.
 */
const RESERVED_PORTS = { first: 20_000, count: 12_000 };
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that is free now, not handed out before by this process. */
export function freePort(): number {
  for (let attempt = 0; attempt < 1_000; attempt++) {
    const port = RESERVED_PORTS.first + Math.floor(Math.random() * RESERVED_PORTS.count);
    if (handedOut.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
    } catch {
      continue;
    }
    handedOut.add(port);
    return port;
  }
  throw new Error("no free TCP port between 20000 and 31999 on 127.0.0.1 after 1000 tries");
}
