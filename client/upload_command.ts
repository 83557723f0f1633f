/**
 * The client's upload commands: `mle-client upload FILE [--name NAME] [--wait]`, the uploads a
 * `report` or `run` cycle sends after its reports, and the uploads `status` shows.
 *
 * @module
 */

import { EXIT } from "../cli/exit_codes.ts";
import { CliError, UsageError } from "../cli/output.ts";
import { readInteger } from "../cli/flags.ts";
import { backoffDelayMs } from "../protocol/backoff.ts";
import { Agent, type AgentOptions } from "./agent.ts";
import { sendQueuedUploads, sendUpload, type UploaderContext } from "./uploader.ts";
import { type QueuedUpload, UploadQueue } from "./upload_queue.ts";
import type { UploadResult } from "./upload_result.ts";

const TOOL = "mle-client";

/** The flags the upload command adds (`cli/flags.ts`). */
export const UPLOAD_CLI_OPTIONS = {
  name: { type: "string" },
  wait: { type: "boolean", default: false },
  timeout: { type: "string" },
} as const;

/** Help lines of the upload command. */
export const UPLOAD_HELP = {
  command:
    `  upload FILE  queue a file for the Upload Manager (a private snapshot is taken now); report
             and run send it beside their reports; --wait sends it now and waits until the
             server has stored it and checked its SHA-256`,
  options: `Upload options (upload; also the connection options above):
  --name NAME                the name the server files it under (default: FILE's own name)
  --wait                     send now and wait for the server; a progress bar on a terminal
  --timeout SECONDS          (wait) give up waiting after this long; the upload stays queued
                             (default 0: no limit)
  Chunk size and throttle: settings _BESClient_UploadManager_ChunkSize (default 131072) and
  _BESClient_UploadManager_ThrottleKBPS (default 0 = none); the parent's limits win if smaller.`,
  example: `  mle-client upload /var/log/app.log --name app.log --wait`,
};

/** Options of {@linkcode uploadCommand}. */
export interface UploadCommandOptions {
  agent: AgentOptions;
  file: string | undefined;
  name: string | undefined;
  wait: boolean;
  /** `--timeout` as given (whole seconds, 0 for no limit), or undefined. */
  timeout: string | undefined;
  quiet: boolean;
}

/** Runs `mle-client upload`; returns the exit code. */
export async function uploadCommand(options: UploadCommandOptions): Promise<number> {
  if (!options.file) {
    throw new UsageError("missing FILE", "mle-client upload FILE [--name NAME] [--wait]");
  }
  const timeout = readInteger("timeout", options.timeout, 0, {
    min: 0,
    max: 999_999_999,
    unit: "whole seconds",
  });
  const agent = await Agent.open(options.agent);
  const queue = new UploadQueue(options.agent.dataDir);
  const name = options.name ?? baseName(options.file);
  let upload: QueuedUpload;
  try {
    upload = await queue.add(options.file, name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
      throw new CliError(`Cannot upload "${options.file}": ${(error as Error).message}`);
    }
    throw error;
  }
  options.agent.say(
    `queued "${options.file}" as "${name}" (${upload.size} bytes, SHA-256 ${upload.sha256})`,
  );
  console.log(upload.id);
  if (!options.wait) return EXIT.ok;

  const deadline = timeout > 0 ? Date.now() + timeout * 1000 : Number.POSITIVE_INFINITY;
  const bar = new ProgressBar(Deno.stderr.isTerminal() && !options.quiet);
  let last: UploadResult = { outcome: "pending", message: "not sent yet" };
  for (let attempt = 0; attempt < 1_000_000 && Date.now() < deadline; attempt++) {
    const cycle = await agent.cycle();
    if (cycle.outcome !== "unreachable" && agent.state.computerId !== null) {
      last = await sendUpload(
        uploaderContext(agent, queue, deadline, (u, phase) => bar.draw(u, phase)),
        upload.id,
      );
    } else {
      last = { outcome: "unreachable", message: cycle.message };
    }
    switch (last.outcome) {
      case "complete":
        bar.clear();
        options.agent.say(`upload ${upload.id}: ${last.message}`);
        return EXIT.ok;
      case "failed":
        bar.clear();
        console.error(`${TOOL}: error: upload ${upload.id}: ${last.message}`);
        return EXIT.failure;
      case "held":
        bar.clear();
        console.error(`${TOOL}: error: upload ${upload.id}: ${last.message}`);
        if (last.hint) console.error(`${TOOL}: hint: ${last.hint}`);
        return EXIT.queued;
    }
    bar.note(last.message);
    const backoff = backoffDelayMs(attempt + 1, { minMs: 1_000, maxMs: 20_000 });
    const wait = Math.min(backoff, Math.max(0, deadline - Date.now()));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  bar.clear();
  console.error(
    `${TOOL}: error: upload ${upload.id} not finished in ${timeout} s: ${last.message}; it stays queued`,
  );
  return last.outcome === "unreachable" ? EXIT.unreachable : EXIT.failure;
}

/**
 * Sends the queued uploads after a `report` or `run` cycle, within `budgetMs`, and folds the
 * outcome into the cycle's exit code.
 */
export async function sendUploadsAfterCycle(
  agent: Agent,
  options: AgentOptions,
  code: number,
  budgetMs = 10 * 60 * 1000,
): Promise<number> {
  if (code === EXIT.unreachable || agent.state.computerId === null) return code;
  const queue = new UploadQueue(options.dataDir);
  const waiting = (await queue.list()).filter((u) => u.state === "queued" || u.state === "sending");
  if (waiting.length === 0) return code;
  const summary = await sendQueuedUploads(uploaderContext(agent, queue, Date.now() + budgetMs));
  for (const line of summary.messages) options.say(line);
  if (code !== EXIT.ok) return code;
  if (summary.failed > 0) return EXIT.failure;
  if (summary.held > 0) return EXIT.queued;
  if (summary.unreachable) return EXIT.unreachable;
  return code;
}

/** One upload as `status` shows it. */
export interface UploadView {
  id: string;
  name: string;
  size: number;
  state: QueuedUpload["state"];
  uploadId: string | null;
  encrypted: boolean | null;
  chunks: number | null;
  acknowledged: number;
  storedByServer: number | null;
  percent: number;
  queuedAt: string;
  completedAt: string | null;
  lastError: QueuedUpload["lastError"];
}

/** The uploads of a client data dir, as `status` shows them. */
export async function uploadViews(dataDir: string): Promise<UploadView[]> {
  return (await new UploadQueue(dataDir).list()).map((upload) => {
    const chunks = upload.manifest?.chunkCount ?? null;
    const percent = upload.state === "complete"
      ? 100
      : chunks
      ? Math.floor((upload.acked / chunks) * 100)
      : 0;
    return {
      id: upload.id,
      name: upload.name,
      size: upload.size,
      state: upload.state,
      uploadId: upload.manifest?.uid ?? null,
      encrypted: upload.manifest ? upload.manifest.kid !== null : null,
      chunks,
      acknowledged: upload.acked,
      storedByServer: upload.stored,
      percent,
      queuedAt: upload.queuedAt,
      completedAt: upload.completedAt,
      lastError: upload.lastError,
    };
  });
}

/** The lines `status` prints about uploads. */
export function formatUploadViews(views: readonly UploadView[]): string[] {
  if (views.length === 0) return ["Uploads                none"];
  const lines = [`Uploads                ${views.length}`];
  for (const view of views) {
    const progress = view.chunks === null
      ? "not sent yet"
      : `${view.acknowledged}/${view.chunks} chunks acknowledged (${view.percent}%)` +
        (view.storedByServer === null ? "" : `, ${view.storedByServer} at the server`);
    lines.push(
      `  ${view.id}  ${JSON.stringify(view.name)}  ${view.size} bytes  ${view.state}  ${progress}` +
        `${view.encrypted === null ? "" : view.encrypted ? "  encrypted" : "  clear"}`,
    );
    if (view.lastError && view.state !== "complete") {
      lines.push(`    last error: ${view.lastError.at} ${view.lastError.message}`);
    }
  }
  return lines;
}

function uploaderContext(
  agent: Agent,
  queue: UploadQueue,
  deadline: number,
  onProgress?: UploaderContext["onProgress"],
): UploaderContext {
  return {
    parentUrl: agent.parentUrl,
    computerId: agent.state.computerId!,
    signingKey: agent.clientKey.privateKey,
    serverKey: agent.serverKey,
    encryption: agent.encryptionSituation(),
    settings: agent.state.deployedSettings,
    queue,
    deadline,
    onProgress,
  };
}

function baseName(path: string): string {
  const parts = path.split(/[\\/]+/).filter((part) => part !== "");
  return parts.at(-1) ?? path;
}

/** A one-line progress bar on stderr, only on a terminal; piped output stays quiet. */
class ProgressBar {
  readonly #enabled: boolean;
  readonly #encoder = new TextEncoder();
  readonly #started = performance.now();
  #lastDraw = 0;
  #drawn = false;

  constructor(enabled: boolean) {
    this.#enabled = enabled;
  }

  draw(upload: QueuedUpload, phase: "sending" | "waiting"): void {
    if (!this.#enabled) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const chunks = upload.manifest?.chunkCount ?? 1;
    const chunkSize = upload.manifest?.chunkSize ?? upload.size;
    const sent = Math.min(upload.size, upload.acked * chunkSize);
    const fraction = upload.size === 0 ? upload.acked / chunks : sent / upload.size;
    const width = 30;
    const filled = Math.round(Math.min(1, fraction) * width);
    const mib = (n: number) => (n / 1048576).toFixed(1);
    const seconds = (now - this.#started) / 1000;
    const rate = seconds > 0 ? (sent / 1e6 / seconds).toFixed(1) : "0.0";
    const stored = upload.stored === null ? "" : `, server has ${upload.stored}/${chunks} chunks`;
    const text = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${
      Math.floor(fraction * 100)
    }% ${mib(sent)}/${mib(upload.size)} MiB ${rate} MB/s ${
      phase === "waiting" ? `waiting for the server${stored}` : "sending"
    }`;
    Deno.stderr.writeSync(this.#encoder.encode(`\r\x1b[K${text}`));
    this.#drawn = true;
  }

  note(message: string): void {
    if (!this.#enabled) return;
    this.clear();
    Deno.stderr.writeSync(this.#encoder.encode(`${TOOL}: ${message}\n`));
  }

  clear(): void {
    if (!this.#enabled || !this.#drawn) return;
    Deno.stderr.writeSync(this.#encoder.encode("\r\x1b[K"));
    this.#drawn = false;
  }
}
