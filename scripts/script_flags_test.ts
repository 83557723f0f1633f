import assert from "node:assert/strict";

/** Runs a script as `npm run` does, with its command line; nothing starts before the flags pass. */
async function runScript(script: string, args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(script, import.meta.url).pathname, ...args],
    stdin: "null",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

const MISUSES: Array<[script: string, args: string[], message: string]> = [
  ["herd.ts", ["--clients", "0"], 'Cannot use --clients "0": expected an integer from 1 to 100000'],
  ["soak.ts", ["--kills", "-1"], 'Cannot use --kills "-1": expected an integer from 0 to 100000'],
  ["fuzz_http.ts", ["--minutes", "1.5"], 'Cannot use --minutes "1.5": expected minutes from 0 to'],
  ["bench_console.ts", ["--runs"], 'Missing value of option "--runs"'],
  ["bench_upload.ts", ["--chunk-size", "10"], 'Cannot use --chunk-size "10": expected bytes from'],
  ["bench_crypto.ts", ["--seconds", "31"], 'Cannot use --seconds "31": expected seconds from'],
  ["bench.ts", ["--workers", "17"], 'Cannot use --workers "17": expected an integer from 1 to 16'],
  ["bench.ts", ["--database", "mysql"], 'Cannot use --database "mysql": expected sqlite or'],
  ["bench.ts", ["--connections", "1", "--workers", "2"], 'Cannot use --connections "1"'],
];

for (const [script, args, message] of MISUSES) {
  const tool = script.replace(/\.ts$/, "");
  Deno.test(`${script} ${args.join(" ")} is refused with exit 2 before anything starts`, async () => {
    const result = await runScript(script, args);
    assert.equal(result.code, 2, result.stderr);
    assert.ok(result.stderr.startsWith(`${tool}: error: ${message}`), result.stderr);
    assert.match(result.stderr, new RegExp(`^${tool}: hint: `, "m"));
    assert.equal(result.stdout, "");
  });
}

for (const script of ["bench.ts", "bench_crypto.ts"]) {
  Deno.test(`${script} --help prints its usage and exits 0`, async () => {
    const result = await runScript(script, ["--help"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Usage: deno run --allow-all scripts/${script}`));
    assert.match(result.stdout, /^Exit codes:$/m);
  });
}
