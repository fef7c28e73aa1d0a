// TFTP throughput on loopback: the relay (a real `relay/main.ts` process, TFTP only) against Debian's tftpd-hpa
// (`in.tftpd -L`, foreground), one 1 MiB file, the same client (atftp) for both, in one run:
//   blksize 512, blksize 1468, and blksize 1468 + windowsize 8 (RFC 7440; tftpd-hpa 5.2 ignores windowsize and
//   stays lock-step, which is the comparison the issue asks for).
// A fourth row repeats the windowed case with the small Node RFC 7440 client of the tests
// (test/relay/support/tftpClient.ts), the same client for both servers, since client speed shapes lock-step numbers.
// Rows (stdout, JSON): {"what","ours","peer","peerName","unit":"MB/s","ratio","better":"higher"}; progress on stderr.
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const SIZE = 1024 * 1024;
const log = (msg) => process.stderr.write(`${msg}\n`);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitFor(check, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up`);
}

const dir = mkdtempSync(join(tmpdir(), "edgeboot-tftp-bench-"));
chmodSync(dir, 0o755); // tftpd-hpa drops to its own user after chroot and must still read the file
const data = randomBytes(SIZE);
writeFileSync(join(dir, "ipxe.efi"), data);
const children = [];
const cleanup = () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
};
process.on("exit", cleanup);

// Ours: the real relay process with only TFTP (and its HTTP port) on loopback; the API URL is unused here.
const oursPort = await freePort();
const httpPort = await freePort();
const relay = spawn(
  process.execPath,
  [join(ROOT, "relay/main.ts"), "--api-url", "http://127.0.0.1:9", "--site", "bench", "--listen", "127.0.0.1", "--dhcp-port", "0", "--proxy-dhcp-port", "0", "--tftp-port", String(oursPort), "--http-port", String(httpPort), "--binaries-dir", dir, "--state-dir", join(dir, "state"), "--log-level", "error"],
  { env: { ...process.env, EDGEBOOT_RELAY_CREDENTIAL: "bench-only" }, stdio: ["ignore", "ignore", "inherit"] },
);
children.push(relay);
await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status > 0, "relay");

// Peer: tftpd-hpa in the foreground on a high port (-s chroots into the dir, which needs root; -L stays foreground).
const peerPort = await freePort();
const asRoot = process.getuid?.() === 0;
const hpa = spawn("in.tftpd", ["-L", "-a", `127.0.0.1:${peerPort}`, ...(asRoot ? ["-s", dir] : [dir])], { stdio: ["ignore", "ignore", "inherit"] });
children.push(hpa);
const hpaVersion = (spawnSync("in.tftpd", ["-V"], { encoding: "utf8" }).stdout || spawnSync("in.tftpd", ["-V"], { encoding: "utf8" }).stderr || "").trim().split("\n")[0] || "tftpd-hpa";

const { tftpGet } = await import("../relay/support/tftpClient.ts");

async function fetchOnce(port, options, client = "atftp") {
  if (client === "node") {
    const started = process.hrtime.bigint();
    const r = await tftpGet({ port, file: "ipxe.efi", options: options.map((o) => o.split(" ")), totalMs: 30_000 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (!r.data.equals(data)) throw new Error(`the Node client got a different file from port ${port}`);
    return seconds;
  }
  const out = join(dir, `out-${port}`);
  const args = [...options.flatMap((o) => ["--option", o]), "-g", "-r", "ipxe.efi", "-l", out, "127.0.0.1", String(port)];
  const started = process.hrtime.bigint();
  await run("atftp", args, { timeout: 30_000 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!readFileSync(out).equals(data)) throw new Error(`atftp got a different file from port ${port}`);
  return seconds;
}
await waitFor(() => fetchOnce(peerPort, []).then(() => true), "tftpd-hpa");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const configs = [
  { what: "TFTP 1 MiB, blksize 512", ours: ["blksize 512"], peer: ["blksize 512"] },
  { what: "TFTP 1 MiB, blksize 1468", ours: ["blksize 1468"], peer: ["blksize 1468"] },
  { what: "TFTP 1 MiB, blksize 1468 + windowsize 8 (peer: lock-step 1468)", ours: ["blksize 1468", "windowsize 8"], peer: ["blksize 1468", "windowsize 8"] },
  { what: "TFTP 1 MiB, blksize 1468 + windowsize 8, Node client (peer: lock-step 1468)", ours: ["blksize 1468", "windowsize 8"], peer: ["blksize 1468", "windowsize 8"], client: "node" },
];
try {
  for (const c of configs) {
    const ours = [];
    const peer = [];
    for (let i = 0; i < 2; i++) {
      await fetchOnce(oursPort, c.ours, c.client);
      await fetchOnce(peerPort, c.peer, c.client);
    }
    // Interleaved so both see the same machine load (2 cores, shared).
    for (let i = 0; i < RUNS; i++) {
      ours.push(await fetchOnce(oursPort, c.ours, c.client));
      peer.push(await fetchOnce(peerPort, c.peer, c.client));
    }
    const mbps = (s) => SIZE / 1e6 / s;
    const row = { what: c.what, ours: mbps(median(ours)), peer: mbps(median(peer)), peerName: hpaVersion.replace(/^tftp-hpa/, "tftpd-hpa"), unit: "MB/s", better: "higher" };
    row.ratio = row.ours / row.peer;
    log(`${c.what}: ours ${row.ours.toFixed(1)} MB/s, tftpd-hpa ${row.peer.toFixed(1)} MB/s (median of ${RUNS}, ${c.client ?? "atftp"} client)`);
    console.log(JSON.stringify(row));
  }
} finally {
  cleanup();
}
