// The progress commands edgeboot writes into a preseed (worker/render/preseedHooks.ts), run the way d-i runs
// preseed/early_command and preseed/late_command (`sh -c "<value>"`, d-i's /bin/sh being busybox ash), with each wget
// d-i images carry: GNU wget (netboot initrd) and busybox wget. Checked: the GET each sends to the events URL, the
// operator's command still runs with its exit status kept, and an unreachable API cannot fail or hang the command.
// The events route taking these GETs is tested in test/worker/boot/preseedProgress.test.ts.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { earlyCommand, lateCommand } from "../../worker/render/preseedHooks.ts";

const BUSYBOX = ["/bin/busybox", "/usr/bin/busybox"].find((f) => existsSync(f));
const GNU_WGET = "/usr/bin/wget";

let server: Server;
let base: string;
const seen: string[] = [];
let work: string;

beforeAll(async () => {
  if (!BUSYBOX) throw new Error("busybox (Debian busybox-static) is needed: d-i's shell and wget are busybox");
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.end("ok\n");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  work = mkdtempSync(join(tmpdir(), "edgeboot-preseed-"));
});

afterAll(() => {
  server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** A PATH whose `wget` is the given client, as in the installer (busybox supplies the rest). */
function pathWith(client: "gnu" | "busybox"): string {
  const dir = mkdtempSync(join(work, `${client}-`));
  symlinkSync(client === "gnu" ? GNU_WGET : BUSYBOX!, join(dir, "wget"));
  return `${dir}:/usr/bin:/bin`;
}

/** Runs a command value as d-i's preseed_command does: `sh -c "$command"`, busybox's sh. */
function run(command: string, path: string): Promise<{ code: number; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(BUSYBOX!, ["sh", "-c", command], { env: { PATH: path }, timeout: 60_000 }, (err) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, ms: Date.now() - started });
    });
  });
}

const clients = ["busybox", "gnu"] as const;

describe.each(clients)("with %s wget", (client) => {
  const events = (tag: string) => `${base}/h/tok-${client}-${tag}/events`;
  const reqs = (tag: string) => seen.filter((s) => s.includes(`/tok-${client}-${tag}/`));

  it.skipIf(client === "gnu" && !existsGnu())("early: reports installing, then runs the operator's command and keeps its exit status", async () => {
    const out = join(work, `early-${client}`);
    const r = await run(earlyCommand(events("early"), `echo ran > ${out}; exit 3`), pathWith(client));
    expect(r.code).toBe(3);
    expect(readFileSync(out, "utf8")).toBe("ran\n");
    expect(reqs("early")).toEqual([`GET /h/tok-${client}-early/events?phase=installing`]);
  });

  it.skipIf(client === "gnu" && !existsGnu())("late: the operator's command (quotes, trailing ; and # comment) runs, then installed, status 0", async () => {
    const out = join(work, `late-${client}`);
    const r = await run(lateCommand(events("late"), `sh -c 'echo "it'"'"'s done" > ${out}';   # their note`), pathWith(client));
    expect(r.code).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("it's done\n");
    expect(reqs("late")).toEqual([`GET /h/tok-${client}-late/events?phase=installed`]);
  });

  it.skipIf(client === "gnu" && !existsGnu())("late: a failing operator command reports failed and keeps its status; their exit cannot skip the report", async () => {
    expect((await run(lateCommand(events("fail"), "false;"), pathWith(client))).code).toBe(1);
    expect((await run(lateCommand(events("exit"), "exit 7"), pathWith(client))).code).toBe(7);
    expect(reqs("fail")).toEqual([`GET /h/tok-${client}-fail/events?phase=failed`]);
    expect(reqs("exit")).toEqual([`GET /h/tok-${client}-exit/events?phase=failed`]);
  });

  it.skipIf(client === "gnu" && !existsGnu())("an unreachable events URL neither fails nor hangs the command", async () => {
    const closed = "http://127.0.0.1:9/h/tok/events"; // discard port: nothing listens
    const early = await run(earlyCommand(closed, ""), pathWith(client));
    const late = await run(lateCommand(closed, "true"), pathWith(client));
    expect([early.code, late.code]).toEqual([0, 0]);
    expect(Math.max(early.ms, late.ms)).toBeLessThan(30_000);
  });
});

// GNU wget is the netboot installer's: without it here the GNU cases are skipped, except in CI (CI=true), where a
// runner without Debian's wget package must not pass by skipping.
function existsGnu(): boolean {
  if (existsSync(GNU_WGET)) return true;
  const message = `the GNU wget cases need ${GNU_WGET} (Debian package wget)`;
  if (process.env.CI === "true") throw new Error(message);
  console.warn(`SKIPPING ${message}`);
  return false;
}
