import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  classifyCompileFailure,
  type CompileFailure,
  executableName,
  shellLine,
} from "./compile.ts";
import { runDenoBounded } from "./bounded_deno_run.ts";
import { binaryTarget, hostTarget, type Target, TARGETS } from "./compile_targets.ts";
import { FULL_DENO_MARKERS, isFullDeno, isZip } from "./denort_bin.ts";
import { type Role, ROLE_ENTRY, ROLE_PERMISSIONS, ROLES } from "../cli/role_permissions.ts";
import { freePort } from "../tests/run_role.ts";

const SCRIPT = fileURLToPath(new URL("./compile.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** Whether `deno compile` has a target for this host: the tests that build for it are ignored if not. */
const HOST_SUPPORTED = (TARGETS as readonly string[]).includes(Deno.build.target);
if (!HOST_SUPPORTED) {
  console.error(
    `compile_test: ignoring the host builds: deno compile has no target ${Deno.build.target}`,
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/**
 * Runs the real script. DENORT_BIN and the proxy settings of the caller are dropped so that each test
 * states the environment it needs; the run is killed (and the test fails) past `timeoutSeconds`.
 */
async function runCompile(
  args: string[],
  env: Record<string, string> = {},
  timeoutSeconds = 60,
): Promise<Run> {
  const base = Deno.env.toObject();
  for (const name of Object.keys(base)) {
    if (/^(DENORT_BIN|(https?|all|no)_proxy)$/i.test(name)) delete base[name];
  }
  const started = performance.now();
  const { timedOut, ...output } = await runDenoBounded(
    {
      args: ["run", "--quiet", "--allow-all", SCRIPT, ...args],
      cwd: ROOT,
      clearEnv: true,
      env: { ...base, NO_COLOR: "1", ...env },
    },
    timeoutSeconds,
    "SIGKILL",
  );
  const seconds = (performance.now() - started) / 1000;
  ok(!timedOut, `compile ${args.join(" ")} did not finish within ${timeoutSeconds} s`);
  return { ...output, seconds };
}

/**
 * Declares a test of a build for this host (ignored where deno compile has no target for it), given
 * a fresh folder that is removed after it, for its output or its DENO_DIR.
 */
function hostBuildTest(name: string, body: (dir: string) => Promise<void>): void {
  Deno.test(name, { ignore: !HOST_SUPPORTED }, async () => {
    const dir = await Deno.makeTempDir({ prefix: "mle-compile-" });
    try {
      await body(dir);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

/** The `deno compile` lines of a dry run, as words (no path here holds a space). */
function compileLines(stdout: string): string[][] {
  return stdout.trimEnd().split("\n").map((line) => line.split(" "));
}

function valueOf(words: string[], option: string): string {
  const at = words.indexOf(option);
  ok(at !== -1, `${option} missing from: ${words.join(" ")}`);
  return words[at + 1];
}

function roleOf(words: string[]): Role {
  const entry = words.at(-1);
  const role = ROLES.find((r) => ROLE_ENTRY[r] === entry);
  ok(role, `no role has the entry "${entry}"`);
  return role;
}

// ELF, Mach-O and PE headers as far as binaryTarget() reads them.
function elf(machine: number): Uint8Array {
  const bytes = new Uint8Array(64);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  new DataView(bytes.buffer).setUint16(18, machine, true);
  return bytes;
}

function machO(cpu: number): Uint8Array {
  const bytes = new Uint8Array(32);
  bytes.set([0xcf, 0xfa, 0xed, 0xfe]);
  new DataView(bytes.buffer).setUint32(4, cpu, true);
  return bytes;
}

function pe(machine: number): Uint8Array {
  const bytes = new Uint8Array(0x100);
  const view = new DataView(bytes.buffer);
  bytes.set([0x4d, 0x5a]);
  view.setUint32(0x3c, 0x80, true);
  bytes.set([0x50, 0x45, 0, 0], 0x80);
  view.setUint16(0x84, machine, true);
  return bytes;
}

const HEADER_FOR: Record<Target, Uint8Array> = {
  "x86_64-unknown-linux-gnu": elf(0x3e),
  "aarch64-unknown-linux-gnu": elf(0xb7),
  "x86_64-apple-darwin": machO(0x01000007),
  "aarch64-apple-darwin": machO(0x0100000c),
  "x86_64-pc-windows-msvc": pe(0x8664),
};

Deno.test("compile --help prints Usage, Options, Examples and Exit codes to stdout and exits 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const run = await runCompile([flag]);
    strictEqual(run.code, 0);
    strictEqual(run.stderr, "");
    for (const section of ["Usage:", "Options:", "Examples:", "Exit codes:"]) {
      ok(run.stdout.includes(section), `${flag}: no "${section}" in the help`);
    }
    for (const name of [...TARGETS, ...ROLES, "--dry-run", "--out", "DENORT_BIN"]) {
      ok(run.stdout.includes(name), `${flag}: the help does not mention ${name}`);
    }
  }
});

Deno.test("compile rejects a bad target, role or option on stderr with exit 2", async () => {
  const cases: [string[], string][] = [
    [["--target", "sparc-sun-solaris"], 'compile: error: Unknown target "sparc-sun-solaris"'],
    [["--role", "database"], 'compile: error: Unknown role "database"'],
    [["--verbose"], 'compile: error: Unknown option "--verbose"'],
    [["server"], 'compile: error: Unexpected argument "server"'],
    [["--target"], 'compile: error: Missing value of option "--target"'],
    [["--timeout", "soon"], 'compile: error: Cannot use --timeout "soon": expected whole seconds'],
  ];
  for (const [args, message] of cases) {
    const run = await runCompile([...args, "--dry-run"]);
    strictEqual(run.code, 2, args.join(" "));
    strictEqual(run.stdout, "", args.join(" "));
    ok(run.stderr.startsWith(message), `${args.join(" ")}: ${run.stderr}`);
    ok(run.stderr.includes("compile: hint: "), args.join(" "));
  }
});

Deno.test("compile --dry-run prints one deno compile line per role and target with exactly the role's permissions", async () => {
  const run = await runCompile(["--dry-run"]);
  strictEqual(run.code, 0, run.stderr);
  strictEqual(run.stderr, "");
  const lines = compileLines(run.stdout);
  strictEqual(lines.length, ROLES.length * TARGETS.length);
  const seen = new Set<string>();
  for (const words of lines) {
    strictEqual(words[0], Deno.execPath());
    strictEqual(words[1], "compile");
    ok(words.includes("--quiet") && words.includes("--no-prompt"), words.join(" "));
    const role = roleOf(words);
    const target = valueOf(words, "--target") as Target;
    ok(TARGETS.includes(target), target);
    seen.add(`${role} ${target}`);
    deepStrictEqual(words.filter((w) => w.startsWith("--allow-")), [...ROLE_PERMISSIONS[role]]);
    const exe = target.includes("windows") ? ".exe" : "";
    strictEqual(
      valueOf(words, "--output").replaceAll("\\", "/"),
      `dist/${target}/mle-${role}${exe}`,
    );
    const excluded = words.filter((_, i) => words[i - 1] === "--exclude");
    ok(excluded.includes("node_modules/deno"), "the deno toolchain must not be embedded");
    ok(!excluded.includes("node_modules/hono"), "hono is needed at runtime");
    ok(!excluded.includes("node_modules/postgres"), "postgres is needed at runtime");
  }
  strictEqual(seen.size, ROLES.length * TARGETS.length);

  const flagsOf = (role: Role) => lines.filter((w) => roleOf(w) === role).map((w) => w.join(" "));
  for (const line of flagsOf("client")) {
    ok(line.includes(" --allow-run ") && line.includes(" --allow-sys "), line);
  }
  for (const line of [...flagsOf("relay"), ...flagsOf("admin")]) {
    ok(!line.includes("--allow-run") && !line.includes("--allow-sys"), line);
  }
  // The admin tool reaches the PostgreSQL store of --database; it listens on nothing.
  for (const line of flagsOf("admin")) ok(line.includes(" --allow-net "), line);
});

hostBuildTest(
  "compile --dry-run builds the host once and honours --role and --out",
  async (out) => {
    const run = await runCompile([
      "--dry-run",
      "--target",
      "host",
      "--target",
      Deno.build.target,
      "--role",
      "admin",
      "--role",
      "admin",
      "--out",
      out,
    ]);
    strictEqual(run.code, 0, run.stderr);
    const lines = compileLines(run.stdout);
    strictEqual(lines.length, 1);
    strictEqual(valueOf(lines[0], "--target"), hostTarget());
    strictEqual(
      valueOf(lines[0], "--output"),
      join(out, hostTarget(), executableName("admin", hostTarget())),
    );
  },
);

Deno.test("compile refuses several targets with DENORT_BIN (exit 2)", async () => {
  const run = await runCompile(
    ["--dry-run", "--target", "x86_64-unknown-linux-gnu", "--target", "x86_64-pc-windows-msvc"],
    { DENORT_BIN: Deno.execPath() },
  );
  strictEqual(run.code, 2);
  strictEqual(run.stdout, "");
  ok(
    run.stderr.startsWith("compile: error: Cannot build 2 targets with one DENORT_BIN"),
    run.stderr,
  );
  ok(run.stderr.includes("compile: hint: build one target per run"), run.stderr);
});

hostBuildTest("compile fails clearly when DENORT_BIN names no file (exit 1)", async (dir) => {
  const missing = join(dir, "no-denort");
  const run = await runCompile(["--target", "host", "--role", "admin", "--out", dir], {
    DENORT_BIN: missing,
  });
  strictEqual(run.code, 1);
  strictEqual(run.stdout, "");
  const lines = run.stderr.trimEnd().split("\n");
  strictEqual(lines[0], `compile: error: Cannot use DENORT_BIN "${missing}": no such file`);
  ok(
    lines[1].startsWith(`compile: hint: set DENORT_BIN to a denort binary for "${hostTarget()}"`),
  );
  ok(lines[1].includes(`denort-${hostTarget()}.zip`), lines[1]);
  ok(run.seconds < 30, `took ${run.seconds} s: it waited on something`);
});

hostBuildTest(
  "compile refuses a DENORT_BIN that is not a denort for the target (exit 1)",
  async (dir) => {
    const other = TARGETS.find((t) => t !== hostTarget())!;
    const cases: [Uint8Array, string][] = [
      [HEADER_FOR[other], `for target "${hostTarget()}": it is built for "${other}"`],
      [
        new TextEncoder().encode("#!/bin/sh\necho denort\n"),
        "not an executable for any of the targets",
      ],
      [new Uint8Array([0x50, 0x4b, 3, 4, 20, 0]), "it is a zip archive, not the denort binary"],
    ];
    for (const [bytes, message] of cases) {
      const path = join(dir, "denort");
      await Deno.writeFile(path, bytes);
      const run = await runCompile(["--target", "host", "--role", "admin", "--out", dir], {
        DENORT_BIN: path,
      });
      strictEqual(run.code, 1, run.stderr);
      ok(run.stderr.startsWith("compile: error: Cannot use DENORT_BIN"), run.stderr);
      ok(run.stderr.includes(message), run.stderr);
      ok(run.stderr.includes("compile: hint: "), run.stderr);
    }
  },
);

hostBuildTest(
  "compile says the runtime could not be downloaded, and how to supply it, when the download fails",
  async (denoDir) => {
    // No runtime cached (fresh DENO_DIR) and a proxy that refuses: a failed download on any machine.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const run = await runCompile(["--target", "host", "--role", "admin", "--out", denoDir], {
      DENO_DIR: denoDir,
      HTTPS_PROXY: `http://127.0.0.1:${port}`,
    }, 120);
    const host = hostTarget();
    strictEqual(run.code, 1, run.stderr);
    strictEqual(run.stdout, "");
    const lines = run.stderr.trimEnd().split("\n");
    ok(
      lines[0].startsWith(
        `compile: error: The Deno runtime (denort) for target "${host}" could not be downloaded: `,
      ),
      run.stderr,
    );
    // deno compile's own line is passed through.
    ok(
      lines[0].includes(`dl.deno.land/release/v${Deno.version.deno}/denort-${host}.zip`),
      lines[0],
    );
    ok(
      lines[1].startsWith(
        `compile: hint: offline, set DENORT_BIN to a denort binary for "${host}"`,
      ),
    );
    ok(run.stderr.includes("one DENORT_BIN builds one target per run"), run.stderr);
    ok(!run.stderr.includes("Stack backtrace"), run.stderr);
  },
);

hostBuildTest(
  "compile stops a stalled runtime download after --timeout (exit 1)",
  async (denoDir) => {
    // A proxy that accepts connections and never answers, like a firewall dropping packets.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      try {
        for await (const conn of listener) held.push(conn);
      } catch {
        // Closed.
      }
    })();
    try {
      const run = await runCompile(
        ["--target", "host", "--role", "relay", "--out", denoDir, "--timeout", "5"],
        { DENO_DIR: denoDir, HTTPS_PROXY: `http://127.0.0.1:${listener.addr.port}` },
        60,
      );
      strictEqual(run.code, 1, run.stderr);
      ok(
        run.stderr.startsWith(
          `compile: error: deno compile of "mle-relay" for "${hostTarget()}" did not finish within 5 s`,
        ),
        run.stderr,
      );
      ok(run.stderr.includes("compile: hint: a stalled download of the runtime"), run.stderr);
      ok(run.seconds < 30, `took ${run.seconds} s`);
    } finally {
      listener.close();
      await accepting;
      for (const conn of held) conn.close();
    }
  },
);

hostBuildTest(
  "compile refuses the full deno program as DENORT_BIN: its executables would behave as plain deno (exit 1)",
  async (out) => {
    const run = await runCompile(["--target", "host", "--role", "admin", "--out", out], {
      DENORT_BIN: Deno.execPath(),
    });
    strictEqual(run.code, 1, run.stderr);
    const lines = run.stderr.trimEnd().split("\n");
    strictEqual(
      lines[0],
      `compile: error: Cannot use DENORT_BIN "${Deno.execPath()}": it is the full deno program, ` +
        "not its runtime denort; deno compile would accept it and write executables that behave " +
        "as plain deno",
    );
    ok(lines[1].includes(`denort-${hostTarget()}.zip`), lines[1]);
    strictEqual(run.stdout, "");
    deepStrictEqual(await Array.fromAsync(Deno.readDir(out)), []);
  },
);

/**
 * A stand-in for denort, which a machine without internet does not have: the deno binary with
 * the help texts of its subcommands blanked, so that the DENORT_BIN check cannot tell it from
 * denort (deno compile builds on it as on any base binary).
 */
async function standInDenort(dir: string): Promise<string> {
  const bytes = await Deno.readFile(Deno.execPath());
  const text = new TextDecoder("latin1").decode(bytes);
  for (const marker of FULL_DENO_MARKERS) {
    for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + 1)) {
      bytes.fill(0x5f, at, at + marker.length);
    }
  }
  const path = join(dir, "denort");
  await Deno.writeFile(path, bytes, { mode: 0o755 });
  return path;
}

hostBuildTest(
  "compile builds the host target offline with DENORT_BIN, without the toolchain inside",
  async (out) => {
    const denort = await standInDenort(out);
    ok(!(await isFullDeno(denort)));
    // Offline: any download would go through a proxy that is not there, and fail.
    const nowhere = `http://127.0.0.1:${freePort()}`;
    const run = await runCompile(["--target", "host", "--role", "admin", "--out", out], {
      DENORT_BIN: denort,
      HTTP_PROXY: nowhere,
      HTTPS_PROXY: nowhere,
    }, 300);
    strictEqual(run.code, 0, run.stderr);
    const expected = join(out, hostTarget(), executableName("admin", hostTarget()));
    strictEqual(run.stdout, `${expected}\n`);
    const built = await Deno.stat(expected);
    const base = await Deno.stat(denort);
    // node_modules/deno (the toolchain, as big as the base) must not have been embedded.
    ok(built.size - base.size < 20 * 1024 * 1024, `embedded ${built.size - base.size} bytes`);
  },
);

Deno.test("binaryTarget() reads the target from ELF, Mach-O and PE headers", () => {
  for (const target of TARGETS) strictEqual(binaryTarget(HEADER_FOR[target]), target, target);
  const unknown: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["a script", new TextEncoder().encode("#!/bin/sh\n")],
    ["ELF for RISC-V", elf(0xf3)],
    [
      "big-endian ELF",
      (() => {
        const bytes = elf(0x3e);
        bytes[5] = 2;
        return bytes;
      })(),
    ],
    ["Mach-O for PowerPC", machO(0x12)],
    ["PE for arm64 Windows", pe(0xaa64)],
    ["truncated PE", pe(0x8664).subarray(0, 0x82)],
  ];
  for (const [name, header] of unknown) strictEqual(binaryTarget(header), undefined, name);
  ok(isZip(new Uint8Array([0x50, 0x4b, 3, 4])));
  ok(!isZip(HEADER_FOR["x86_64-unknown-linux-gnu"]));
});

Deno.test("classifyCompileFailure() tells a failed download and a bad DENORT_BIN from other failures", () => {
  // Texts as deno compile 2.9.6 wrote them on a machine without internet (colours included).
  const download = "\x1b[0m\x1b[1m\x1b[31merror\x1b[0m: Writing deno compile executable to " +
    "temporary file 'dist/x86_64-unknown-linux-gnu/mle-admin.tmp-66164668e7e11b9d'\n\nCaused by:\n" +
    "    0: Setting up base binary.\n" +
    "    1: error sending request for url (https://dl.deno.land/release/v2.9.6/denort-x86_64-" +
    "unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup address " +
    "information: Name or service not known\n    2: client error (Connect)\n    3: dns error\n" +
    "    4: failed to lookup address information: Name or service not known\n\n" +
    "Stack backtrace:\n   0: <unknown>\n";
  const denortBin = "error: Writing deno compile executable to temporary file 'x.tmp-ab24'\n\n" +
    "Caused by:\n    0: Could not find denort at '/nonexistent'\n" +
    "    1: No such file or directory (os error 2)\n\nStack backtrace:\n   0: <unknown>\n";
  const typeError = "TS2322 [ERROR]: Type 'string' is not assignable to type 'number'.\n" +
    "error: Type checking failed.\n";
  const cases: [string, CompileFailure][] = [
    [download, {
      kind: "download",
      detail: "error sending request for url (https://dl.deno.land/release/v2.9.6/denort-" +
        "x86_64-unknown-linux-gnu.zip): client error (Connect): dns error: failed to lookup " +
        "address information: Name or service not known",
    }],
    [
      "error: x\nCaused by:\n    0: Setting up base binary.\n    1: Bad response: 404\n",
      { kind: "download", detail: "Bad response: 404" },
    ],
    [denortBin, {
      kind: "denort-bin",
      detail: "Could not find denort at '/nonexistent': No such file or directory (os error 2)",
    }],
    [typeError, { kind: "other" }],
    ["", { kind: "other" }],
  ];
  for (const [stderr, expected] of cases) deepStrictEqual(classifyCompileFailure(stderr), expected);
});

Deno.test("shellLine() quotes only the words a shell would split", () => {
  strictEqual(
    shellLine(["deno", "compile", "--output", "dist/x/mle-admin", "a b", "it's"]),
    `deno compile --output dist/x/mle-admin 'a b' 'it'\\''s'`,
  );
});
