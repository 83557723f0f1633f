import assert from "node:assert/strict";
import { initScript, quoteShellWord } from "./init_script.ts";

async function sh(args: string[]): Promise<{ code: number; stdout: string }> {
  const output = await new Deno.Command("/bin/sh", { args, stdin: "null", stderr: "inherit" })
    .output();
  return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
}

function isAlive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Writes, in `dir`, the init script of a service "besclient" that runs `argv`; its path. */
async function writeInitScript(dir: string, argv: string[], dataDir: string): Promise<string> {
  const script = `${dir}/besclient`;
  await Deno.writeTextFile(
    script,
    initScript({ name: "besclient", description: "test", argv, dataDir, writablePaths: [] }),
  );
  return script;
}

Deno.test({
  name: "quoteShellWord() gives /bin/sh back every word as it was",
  ignore: Deno.build.os === "windows",
  async fn() {
    for (const word of ["plain", "it's", '$HOME `id` \\ "x"', "", "a b"]) {
      const echoed = await sh(["-c", `printf %s ${quoteShellWord(word)}`]);
      assert.equal(echoed.stdout, word);
    }
  },
});

Deno.test({
  name: "initScript() starts a daemon with a pid file, reports its status, stops it",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mle-initd-" });
    const script = await writeInitScript(dir, ["/bin/sleep", "1000"], `${dir}/data`);
    try {
      const started = await sh([script, "start"]);
      assert.equal(started.code, 0);
      const pid = Number(/started \(pid (\d+)\)/.exec(started.stdout)![1]);
      assert.ok(isAlive(pid));
      assert.equal((await Deno.readTextFile(`${dir}/data/service.pid`)).trim(), String(pid));
      assert.equal(
        (await sh([script, "start"])).stdout,
        `besclient is already running (pid ${pid})\n`,
      );
      assert.deepEqual(await sh([script, "status"]), {
        code: 0,
        stdout: `besclient is running (pid ${pid})\n`,
      });
      assert.equal((await sh([script, "stop"])).stdout, "besclient stopped\n");
      assert.ok(!isAlive(pid));
      assert.deepEqual(await sh([script, "status"]), {
        code: 3,
        stdout: "besclient is not running\n",
      });
      assert.equal((await sh([script, "bogus"])).code, 2);
    } finally {
      await sh([script, "stop"]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "initScript() never signals an unrelated process a stale pid file names",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mle-initd-" });
    const script = await writeInitScript(dir, ["/usr/local/bin/mle-client", "run"], dir);
    // The service died long ago and its pid now belongs to someone else's process.
    const unrelated = new Deno.Command("/bin/sleep", { args: ["1000"], stdin: "null" }).spawn();
    try {
      await Deno.writeTextFile(`${dir}/service.pid`, `${unrelated.pid}\n`);
      assert.deepEqual(await sh([script, "status"]), {
        code: 3,
        stdout: "besclient is not running\n",
      });
      assert.equal((await sh([script, "stop"])).stdout, "besclient is not running\n");
      assert.ok(isAlive(unrelated.pid), "the unrelated process was signalled");
    } finally {
      unrelated.kill("SIGKILL");
      await unrelated.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
