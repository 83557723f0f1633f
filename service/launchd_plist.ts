/**
 * A role's launchd job (`/Library/LaunchDaemons/<label>.plist`): started at boot, started again
 * when it fails, its output in the role's data dir. Pure.
 *
 * @module
 */

import { joinPath } from "../keystore/secure_file.ts";
import { checkServiceDefinition, type ServiceDefinition } from "./service_definition.ts";

/** The job's label for a service name: `com.mle.besclient`. */
export function launchdLabel(name: string): string {
  return `com.mle.${name}`;
}

/**
 * The property list's text.
 *
 * @example
 * ```ts
 * import { launchdPlist } from "./launchd_plist.ts";
 * const plist = launchdPlist({
 *   name: "besclient",
 *   description: "BES Client",
 *   argv: ["/usr/local/bin/mle-client", "run"],
 *   dataDir: "/Library/Application Support/BigFix/BES Agent",
 *   writablePaths: [],
 * });
 * console.log(plist.includes("<string>com.mle.besclient</string>")); // true
 * ```
 */
export function launchdPlist(definition: ServiceDefinition): string {
  checkServiceDefinition(definition);
  const log = joinPath(definition.dataDir, "service.log");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- ${escapeXml(definition.description).replaceAll("--", "- -")}: made by install-service -->
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${escapeXml(launchdLabel(definition.name))}</string>
  <key>ProgramArguments</key>
  <array>
${definition.argv.map((part) => `    <string>${escapeXml(part)}</string>`).join("\n")}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ThrottleInterval</key>
  <integer>10</integer>
  <key>Umask</key>
  <integer>63</integer>
  <key>StandardOutPath</key>
  <string>${escapeXml(log)}</string>
  <key>StandardErrorPath</key>
  <string>${escapeXml(log)}</string>
</dict>
</plist>
`;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&apos;");
}
