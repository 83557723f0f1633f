/**
 * A role's systemd unit: restart on failure, a hardened sandbox (no new privileges, the file
 * system read-only but for the role's own folders), state and log directories. Pure.
 *
 * @module
 */

import { dirname } from "../keystore/secure_file.ts";
import { checkServiceDefinition, type ServiceDefinition } from "./service_definition.ts";

/**
 * The unit file's text.
 *
 * `ProtectSystem=strict` makes the whole file system read-only for the service; `ReadWritePaths`
 * gives back the data dir and the parent of each writable path (the client deletes and recreates
 * its KeyStorage folder, so it needs the folder above it). The `-` prefix lets the unit start
 * before a folder exists. No `MemoryDenyWriteExecute`: V8 compiles code at run time.
 *
 * @example
 * ```ts
 * import { systemdUnit } from "./systemd_unit.ts";
 * const unit = systemdUnit({
 *   name: "besclient",
 *   description: "BES Client",
 *   argv: ["/usr/local/bin/mle-client", "run"],
 *   dataDir: "/var/opt/BESClient",
 *   writablePaths: [],
 * });
 * console.log(unit.includes("NoNewPrivileges=yes")); // true
 * ```
 */
export function systemdUnit(definition: ServiceDefinition): string {
  checkServiceDefinition(definition);
  const writable = [
    definition.dataDir,
    ...definition.writablePaths.map((path) => dirname(path)),
  ].filter((path, index, all) => all.indexOf(path) === index);
  return [
    "[Unit]",
    `Description=${escapeSpecifiers(definition.description)}`,
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${definition.argv.map(quoteSystemdWord).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=5s",
    "TimeoutStopSec=30s",
    "UMask=0077",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    "PrivateDevices=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectControlGroups=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    `StateDirectory=${definition.name}`,
    "StateDirectoryMode=0700",
    `LogsDirectory=${definition.name}`,
    "LogsDirectoryMode=0750",
    `ReadWritePaths=${writable.map((path) => quoteSystemdWord(`-${path}`)).join(" ")}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** One word of a unit's command line, quoted as systemd reads it (`%` and `$` doubled). */
export function quoteSystemdWord(word: string): string {
  return `"${
    escapeSpecifiers(word).replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("$", "$$$$")
  }"`;
}

function escapeSpecifiers(text: string): string {
  return text.replaceAll("%", "%%");
}
