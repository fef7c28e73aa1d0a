// UEFI HTTP Boot's side of the relay's HTTP server: the iPXE binary named in the HTTPClient offer, asked for the way
// EDK2's HttpBootDxe asks (HEAD for the size, then GET), with the headers it checks, and the download recorded as a
// boot step (`http-binary-sent`) labelled with the MAC DHCP bound to the client's address.
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BinaryCatalog } from "../../relay/binaries.ts";
import { ClientTable } from "../../relay/dhcp/clients.ts";
import { createRelayHttpServer } from "../../relay/http/server.ts";
import { parts } from "./support/relayParts.ts";
import { listen } from "./support/http.ts";

type Got = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
function fetchFrom(url: string, localAddress: string, method = "GET"): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function relayHttp() {
  const dir = mkdtempSync(join(tmpdir(), "eb-httpboot-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  // A real EFI binary where the machine has one (Debian's ipxe package), else stand-in bytes.
  try {
    copyFileSync("/usr/lib/ipxe/ipxe.efi", join(dir, "ipxe.efi"));
  } catch {
    writeFileSync(join(dir, "ipxe.efi"), Buffer.alloc(300_000, 0x4d));
  }
  writeFileSync(join(dir, "undionly.kpxe"), Buffer.alloc(1000, 0x55));
  const binaries = new BinaryCatalog(dir, []);
  await binaries.ready();
  const p = parts();
  const clients = new ClientTable();
  const server = createRelayHttpServer({
    bootIpxe: async (_req, res) => void res.end("#!ipxe\n"),
    binaries,
    registry: p.registry,
    metrics: p.metrics,
    log: p.log,
    events: p.sink,
    clients,
  });
  const http = await listen(server);
  cleanups.push(() => http.close());
  return { ...p, clients, base: http.base, dir };
}

describe("relay HTTP: iPXE binaries for UEFI HTTP Boot", () => {
  it("answers HEAD with the size and GET with the bytes, as application/efi, and records the download by MAC", async () => {
    const r = await relayHttp();
    // The firmware's DHCPREQUEST to the site server, seen on 67, bound 127.0.0.7 to its MAC.
    r.clients.claim({ ip: "127.0.0.7", mac: "52:54:00:eb:00:03", ipxe: false, source: "dhcp-request" });
    const head = await fetchFrom(`${r.base}/ipxe.efi`, "127.0.0.7", "HEAD");
    expect(head.status).toBe(200);
    expect(head.headers["content-type"]).toBe("application/efi"); // EDK2 HttpBootCheckImageType
    const size = Number(head.headers["content-length"]);
    expect(size).toBeGreaterThan(0);
    expect(head.body.length).toBe(0);
    expect(r.events).toEqual([]); // a HEAD is not a download

    const get = await fetchFrom(`${r.base}/ipxe.efi`, "127.0.0.7");
    expect(get.status).toBe(200);
    expect(get.body.length).toBe(size);
    const onDisk = createHash("sha256").update(await import("node:fs").then((fs) => fs.readFileSync(join(r.dir, "ipxe.efi")))).digest("hex");
    expect(createHash("sha256").update(get.body).digest("hex")).toBe(onDisk);
    // The event is written once the response has finished (after the client saw the last byte): wait, bounded.
    for (let i = 0; i < 100 && r.events.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(r.events).toEqual([
      { phase: "http-binary-sent", mac: "52:54:00:eb:00:03", detail: { file: "ipxe.efi", client: "127.0.0.7", bytes: size, ms: expect.any(Number) }, at: expect.any(Number) },
    ]);
  });

  it("serves a non-EFI file as octet-stream, an unknown client without a MAC label, and 404s what is not there", async () => {
    const r = await relayHttp();
    const kpxe = await fetchFrom(`${r.base}/undionly.kpxe`, "127.0.0.8");
    expect(kpxe.status).toBe(200);
    expect(kpxe.headers["content-type"]).toBe("application/octet-stream");
    await new Promise((res) => setTimeout(res, 20));
    expect(r.events).toEqual([{ phase: "http-binary-sent", detail: { file: "undionly.kpxe", client: "127.0.0.8", bytes: 1000, ms: expect.any(Number) }, at: expect.any(Number) }]);
    for (const path of ["/snponly.efi", "/..%2f..%2fetc%2fpasswd", "/boot/ipxe.efi"]) {
      expect((await fetchFrom(`${r.base}${path}`, "127.0.0.8")).status, path).toBe(404);
    }
    expect(r.events).toHaveLength(1);
  });
});
