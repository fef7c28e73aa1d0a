// A real relay process (`node relay/main.ts`) for fault tests: started on loopback with DHCP 67 and TFTP off, 4011 and
// HTTP on free ports, debug logs captured (every event the relay emits is logged there as `"msg":"event"`), stopped
// with SIGTERM or killed with SIGKILL. `wrap` runs it under another command (e.g. unshare for a private tmpfs).
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../../helpers/wrangler.ts";

const MAIN = fileURLToPath(new URL("../../../relay/main.ts", import.meta.url));

export type LoggedEvent = { phase: string; at: number; mac?: string; detail?: Record<string, unknown> };

export type RelayProcess = {
  child: ChildProcess;
  base: string;
  httpPort: number;
  proxyPort: number;
  logs(): string;
  events(): LoggedEvent[];
  health(): Promise<Record<string, unknown>>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
};

export async function startRelayProcess(opts: {
  apiUrl: string;
  credential: string;
  stateDir: string;
  cacheDir?: string;
  binariesDir?: string; // default: the state dir, whose files the relay never serves (so: no binaries)
  httpPort?: number;
  proxyPort?: number;
  wrap?: (cmd: string, args: string[]) => [string, string[]];
  extraArgs?: string[];
}): Promise<RelayProcess> {
  const httpPort = opts.httpPort ?? (await freePort());
  const proxyPort = opts.proxyPort ?? (await freePort());
  const args = [
    MAIN, "--api-url", opts.apiUrl, "--site", "lab", "--listen", "127.0.0.1", "--advertise", "127.0.0.1",
    "--dhcp-port", "0", "--proxy-dhcp-port", String(proxyPort), "--tftp-port", "0", "--http-port", String(httpPort),
    "--state-dir", opts.stateDir, "--binaries-dir", opts.binariesDir ?? opts.stateDir, "--sync-interval", "1", "--api-timeout-ms", "3000",
    "--log-level", "debug", ...(opts.cacheDir ? ["--cache-dir", opts.cacheDir] : []), ...(opts.extraArgs ?? []),
  ];
  const [cmd, argv] = opts.wrap ? opts.wrap(process.execPath, args) : [process.execPath, args];
  const child = spawn(cmd, argv, { env: { ...process.env, EDGEBOOT_RELAY_CREDENTIAL: opts.credential }, stdio: ["ignore", "ignore", "pipe"] });
  let logs = "";
  child.stderr!.on("data", (c: Buffer) => {
    logs += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const base = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`relay exited (${child.exitCode ?? child.signalCode}):\n${logs.slice(-4000)}`);
    if (await fetch(`${base}/healthz`).then((r) => r.status < 600, () => false)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`relay did not come up:\n${logs.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // /healthz answers once HTTP listens, before DHCP is bound (on a worker thread that takes a moment more): wait for
  // the start to finish too (bounded; a relay that never logs it is the test's to judge).
  for (let i = 0; i < 100 && !logs.includes('"msg":"relay started"') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    child,
    base,
    httpPort,
    proxyPort,
    logs: () => logs,
    events: () =>
      logs
        .split("\n")
        .filter((l) => l.includes('"msg":"event"'))
        .map((l) => JSON.parse(l) as LoggedEvent),
    health: async () => (await (await fetch(`${base}/healthz`)).json()) as Record<string, unknown>,
    kill9: async () => {
      if (gone()) return;
      child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      if (gone()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// Same event, as logged by the relay and as stored by the API (the queue adds only the id).
export const eventKey = (e: { phase: string; at: number; mac?: string | null }) => `${e.phase}|${Math.round(e.at)}|${e.mac ?? ""}`;
