/**
 * Where each role keeps its files when not told otherwise, per operating system. The client's
 * KeyStorage paths are exactly those the original documents (seed 002).
 *
 * @module
 */

/** Operating systems the product knows the conventions of. */
export type TargetOs = "windows" | "macos" | "linux" | "aix" | "hpux" | "solaris";

/** The operating system this process runs on, in {@linkcode TargetOs} terms. */
export function currentOs(): TargetOs {
  switch (Deno.build.os) {
    case "windows":
      return "windows";
    case "darwin":
      return "macos";
    case "solaris":
    case "illumos":
      return "solaris";
    default:
      return "linux";
  }
}

/** The folder names of the original's agent on each OS. */
const CLIENT_DIRS: Record<TargetOs, { data: string; keyStorage: string }> = {
  windows: {
    data: "C:\\Program Files\\BigFix Enterprise\\BES Client",
    keyStorage: "C:\\Program Files\\BigFix Enterprise\\BES Client\\KeyStorage",
  },
  macos: {
    data: "/Library/Application Support/BigFix/BES Agent",
    keyStorage: "/Library/Application Support/BigFix/BES Agent/KeyStorage",
  },
  linux: { data: "/var/opt/BESClient", keyStorage: "/etc/opt/BESClient/KeyStorage" },
  aix: { data: "/var/opt/BESClient", keyStorage: "/etc/opt/BESClient/KeyStorage" },
  hpux: { data: "/var/opt/BESClient", keyStorage: "/etc/opt/BESClient/KeyStorage" },
  solaris: { data: "/var/opt/BESClient", keyStorage: "/etc/opt/BESClient/KeyStorage" },
};

/**
 * The documented KeyStorage folder. On 64-bit Windows the (32-bit) agent lives under
 * `Program Files (x86)`, as seed 002 lists.
 *
 * @example
 * ```ts
 * import { defaultKeyStoragePath } from "./default_paths.ts";
 * console.log(defaultKeyStoragePath("linux")); // "/etc/opt/BESClient/KeyStorage"
 * ```
 */
export function defaultKeyStoragePath(os: TargetOs = currentOs(), is64Bit = true): string {
  const path = CLIENT_DIRS[os].keyStorage;
  return os === "windows" && is64Bit ? path.replace("Program Files", "Program Files (x86)") : path;
}

/** The client's default data dir (queue, state, installed masthead). */
export function defaultClientDataDir(os: TargetOs = currentOs(), is64Bit = true): string {
  const path = CLIENT_DIRS[os].data;
  return os === "windows" && is64Bit ? path.replace("Program Files", "Program Files (x86)") : path;
}

/** The server's default data dir. */
export function defaultServerDataDir(os: TargetOs = currentOs()): string {
  if (os === "windows") return "C:\\Program Files\\BigFix Enterprise\\BigFix Server";
  if (os === "macos") return "/Library/Application Support/MLE/Server";
  return "/var/opt/mle-server";
}

/** The relay's default data dir. */
export function defaultRelayDataDir(os: TargetOs = currentOs()): string {
  if (os === "windows") return "C:\\Program Files\\BigFix Enterprise\\BigFix Relay";
  if (os === "macos") return "/Library/Application Support/MLE/Relay";
  return "/var/opt/mle-relay";
}
