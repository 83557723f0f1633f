import assert from "node:assert/strict";
import { CliError } from "../cli/output.ts";
import { LINUX_CLIENT_SERVICE } from "./_test_definitions.ts";
import { planService } from "./service_plan.ts";
import {
  readServiceRecord,
  SERVICE_RECORD_FILE,
  serviceRecordOf,
  writeServiceRecord,
} from "./service_record.ts";

const PLAN = planService(LINUX_CLIENT_SERVICE, {
  role: "client",
  os: "linux",
  manager: "systemd",
  initTool: null,
});

Deno.test("readServiceRecord() gives back what writeServiceRecord() wrote, and null where none was", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readServiceRecord(dir), null);
    const record = serviceRecordOf("client", PLAN, new Date(0));
    await writeServiceRecord(dir, record);
    assert.deepEqual(await readServiceRecord(dir), record);
    assert.deepEqual(record.restart, ["systemctl", "restart", "besclient.service"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "readServiceRecord() refuses a record another user could have written, and malformed ones",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/${SERVICE_RECORD_FILE}`;
    try {
      await writeServiceRecord(dir, serviceRecordOf("client", PLAN, new Date(0)));
      await Deno.chmod(path, 0o666);
      await assert.rejects(() => readServiceRecord(dir), CliError);
      const bad: unknown[] = [
        "not json",
        JSON.stringify({ ...serviceRecordOf("client", PLAN, new Date(0)), version: 2 }),
        JSON.stringify({ ...serviceRecordOf("client", PLAN, new Date(0)), restart: [] }),
        JSON.stringify({ ...serviceRecordOf("client", PLAN, new Date(0)), stop: [[1]] }),
        JSON.stringify({ ...serviceRecordOf("client", PLAN, new Date(0)), role: "admin" }),
        " ".repeat(70 * 1024),
      ];
      for (const text of bad) {
        await Deno.writeTextFile(path, text as string, { mode: 0o600 });
        await Deno.chmod(path, 0o600);
        await assert.rejects(() => readServiceRecord(dir), CliError, String(text).slice(0, 40));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
