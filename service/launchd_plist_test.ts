import assert from "node:assert/strict";
import { launchdPlist } from "./launchd_plist.ts";

Deno.test("launchdPlist() runs the role at load, again when it fails, with its arguments escaped", () => {
  const plist = launchdPlist({
    name: "besclient",
    description: "BES Client",
    argv: ["/usr/local/bin/mle-client", "run", "--property", "Owner=<ops & co>"],
    dataDir: "/Library/Application Support/BigFix/BES Agent",
    writablePaths: [],
  });
  assert.ok(plist.includes("<string>com.mle.besclient</string>"));
  assert.ok(plist.includes("<string>Owner=&lt;ops &amp; co&gt;</string>"));
  assert.ok(plist.includes("<key>RunAtLoad</key>\n  <true/>"));
  assert.ok(plist.includes("<key>SuccessfulExit</key>\n    <false/>"));
  assert.ok(
    plist.includes("<string>/Library/Application Support/BigFix/BES Agent/service.log</string>"),
  );
  // Every element opened is closed: the text is one well-formed dict.
  for (const tag of ["plist", "dict", "array"]) {
    assert.equal(plist.split(`<${tag}`).length, plist.split(`</${tag}>`).length, tag);
  }
});
