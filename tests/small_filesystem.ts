/**
 * Test support: a small filesystem of its own (a tmpfs mount, which needs root) that a test fills
 * to the last byte and frees again, to prove what each role does when its disk is full.
 *
 * @module
 */

import type { TestSite } from "./deployment.ts";

const FILLER = ".filler";

/**
 * Moves a site's server data dir (database and upload folder) onto a small filesystem of its own
 * of `sizeBytes`, mounted in the site's folder; the filesystem, to fill and free.
 */
export async function moveServerToSmallFilesystem(
  site: TestSite,
  sizeBytes: number,
): Promise<SmallFilesystem> {
  const disk = await SmallFilesystem.mount(`${site.root}/small`, sizeBytes);
  site.serverDir = await disk.copyIn(site.serverDir, "server");
  return disk;
}

/** Whether this process may mount a filesystem (Linux, as root). */
export function canMountFilesystems(): boolean {
  return Deno.build.os === "linux" && Deno.uid() === 0;
}

/** A tmpfs mounted on a folder for one test. */
export class SmallFilesystem {
  readonly path: string;
  #fillers = 0;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Mounts a tmpfs of `sizeBytes` on `path` (created if missing), owner-only like a data dir.
   *
   * @throws {Error} When `mount` fails, with its output.
   */
  static async mount(path: string, sizeBytes: number): Promise<SmallFilesystem> {
    await Deno.mkdir(path, { recursive: true, mode: 0o700 });
    await run("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700`, "tmpfs", path]);
    return new SmallFilesystem(path);
  }

  /** Copies a folder's contents (modes kept) into this filesystem's `name` folder; its path. */
  async copyIn(source: string, name: string): Promise<string> {
    const target = `${this.path}/${name}`;
    await run("cp", ["-a", source, target]);
    return target;
  }

  /**
   * Fills the filesystem to its last byte with filler files: large writes first, then single
   * bytes until the filesystem refuses even those. With `leaveBytes`, that much is freed again
   * afterwards, so that the next large write fits only in part (a disk that fills mid-write).
   */
  async fill(options: { leaveBytes?: number } = {}): Promise<void> {
    const leave = options.leaveBytes ?? 0;
    const reserve = `${this.path}/${FILLER}-${this.#fillers++}`;
    if (leave > 0) await Deno.writeFile(reserve, new Uint8Array(leave));
    for (const blockSize of [1 << 20, 1 << 16, 4096, 512, 1]) {
      const block = new Uint8Array(blockSize);
      const file = await Deno.open(`${this.path}/${FILLER}-${this.#fillers++}`, {
        write: true,
        createNew: true,
      }).catch(() => null);
      if (file === null) continue; // no inode or no room left even for an empty file
      try {
        for (;;) await file.write(block).then((written) => written === 0 ? Promise.reject() : 0);
      } catch {
        // full for this block size: go on with smaller ones
      } finally {
        file.close();
      }
    }
    if (leave > 0) await Deno.remove(reserve);
  }

  /** Removes the filler files: the space returns. */
  async free(): Promise<void> {
    for (let i = 0; i < this.#fillers; i++) {
      await Deno.remove(`${this.path}/${FILLER}-${i}`).catch(() => {});
    }
    this.#fillers = 0;
  }

  /** Bytes free now, as the filesystem reports them. */
  async freeBytes(): Promise<number> {
    const output = await run("df", ["--output=avail", "-B1", this.path]);
    return Number(output.trim().split("\n").at(-1));
  }

  /** Unmounts (lazily, so that a process still holding a file cannot keep it mounted). */
  async unmount(): Promise<void> {
    await run("umount", ["-l", this.path]).catch(() => {});
  }

  /** Unmounts at the end of the scope that holds the filesystem (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.unmount();
  }
}

async function run(command: string, args: string[]): Promise<string> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${output.code}: ${decoder.decode(output.stderr)}`,
    );
  }
  return decoder.decode(output.stdout);
}
