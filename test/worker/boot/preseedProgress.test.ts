// The Debian installer recipe on the boot path: the exact chain and preseed a host gets (edgeboot's progress
// commands added to, or chained with, the operator's), through a relay under `bound` delivery like the e2e scenario,
// the dry run, and the events route taking the GETs those commands send (installing, installed, failed).
// Real Worker, real D1.
import { describe, expect, it } from "vitest";
import { api } from "../../helpers/admin.ts";
import type { ConfigFiles } from "../../../worker/db/schema.ts";
import { call, eventsOf, freshStoragePerTest, hostRow, seedHost, seedImage, seedProfile, seedRelay, seedSecret, seedSite, tokensIn } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:d1:00:01";
const RELAY = "http://10.0.0.2:8067";
const CMDLINE = "auto=true priority=critical url={{ boot.files.preseed }} interface=auto hostname={{ host.hostname }} domain={{ var.domain }} --- console=ttyS0";
const PRESEED = [
  "#_preseed_V1",
  "d-i netcfg/get_hostname string {{ host.hostname }}",
  "d-i mirror/country string manual",
  "d-i mirror/http/hostname string {{ var.mirror }}",
  "d-i passwd/root-password-crypted password {{ secret.ROOT_HASH }}",
  "d-i preseed/late_command string \\",
  "    in-target sh -c 'echo {{ host.hostname }} > /etc/installed-by'",
  "",
].join("\n");
const ROOT_HASH = "$6$salt$Abc/def.ghi";

async function lab(files: ConfigFiles = { preseed: { kind: "preseed", template: PRESEED } }) {
  const site = await seedSite({ slug: "dc", bootAuth: "relay", secretDelivery: "bound", vars: { domain: "example.net", mirror: "deb.example.net" } });
  const relay = await seedRelay({ siteId: site.id, id: "relay-1", cacheUrl: `${RELAY}/artifacts/`, lastSeenAt: Date.now() });
  await seedImage({ name: "d-i" });
  await seedProfile({ name: "debian-installer", image: "d-i", cmdline: CMDLINE, nocloud: false, files });
  await seedHost({ id: "host-1", siteId: site.id, hostname: "node-1", mac: MAC, profileId: "prf-debian-installer" });
  await seedSecret({ siteId: site.id, hostId: "host-1", name: "ROOT_HASH" }, ROOT_HASH);
  const via = { authorization: `Bearer ${relay.credential}`, "edgeboot-client-address": "10.0.0.77" };
  const res = await call(`/boot/dc/ipxe?mac=${MAC}`, { headers: via });
  expect(res.status, res.body).toBe(200);
  return { site, via, chain: res.body, token: tokensIn(res.body)[0]! };
}

const OPTS = "edgeboot_t=; wget --version 2>/dev/null | grep -q 'GNU Wget' && edgeboot_t='-T 10 -t 2'";
const report = (token: string, phase: string) => `wget -q $edgeboot_t -O /dev/null "${RELAY}/h/${token}/events?phase=${phase}" || true`;

describe("Debian installer: the chain and the preseed a host gets", () => {
  it("the kernel line: the preseed's relay URL before ---, no ds=, nothing of edgeboot's after ---", async () => {
    const { chain, token } = await lab();
    const line = chain.split("\n").find((l) => l.startsWith("kernel "))!;
    expect(line).toBe(
      `kernel --name kernel ${RELAY}/artifacts/${"aa".repeat(32)} initrd=initrd0 auto=true priority=critical url=${RELAY}/h/${token}/files/preseed interface=auto hostname=node-1 domain=example.net --- console=ttyS0 || goto retry`,
    );
  });

  it("serves the exact preseed through the relay: values substituted, installing reported first, the operator's late command chained", async () => {
    const { site, via, token } = await lab();
    const res = await call(`/boot/h/${token}/files/preseed`, { headers: via });
    expect(res.status, res.body).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.body).toBe(
      [
        "#_preseed_V1",
        "# edgeboot: installer progress to the boot timeline (installing, installed)",
        `d-i preseed/early_command string ${OPTS}; ${report(token, "installing")}`,
        "d-i netcfg/get_hostname string node-1",
        "d-i mirror/country string manual",
        "d-i mirror/http/hostname string deb.example.net",
        `d-i passwd/root-password-crypted password ${ROOT_HASH}`,
        `d-i preseed/late_command string sh -c 'in-target sh -c '\\''echo node-1 > /etc/installed-by'\\'''; edgeboot_rc=$?; ${OPTS}; if [ $edgeboot_rc = 0 ]; then ${report(token, "installed")}; else ${report(token, "failed")}; fi; exit $edgeboot_rc`,
        "",
      ].join("\n"),
    );
    expect((await eventsOf(site.id)).map((e) => e.phase)).toContain("file-preseed");
  });

  it("an operator's early command runs after edgeboot's report", async () => {
    const { via, token } = await lab({ preseed: { kind: "preseed", template: "d-i preseed/early_command string anna-install network-console\n" } });
    const res = await call(`/boot/h/${token}/files/preseed`, { headers: via });
    expect(res.body).toBe(
      [
        "# edgeboot: installer progress to the boot timeline (installing, installed)",
        `d-i preseed/late_command string ${OPTS}; ${report(token, "installed")}`,
        `d-i preseed/early_command string ${OPTS}; ${report(token, "installing")}; anna-install network-console`,
        "",
      ].join("\n"),
    );
  });

  it("the dry run shows the same commands, with the placeholder token and the secret masked", async () => {
    await lab();
    const res = await api("GET", "/v1/sites/dc/hosts/node-1/render/files/preseed");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const text = res.body as string;
    expect(text).toMatch(/^d-i preseed\/early_command string edgeboot_t=; .* wget -q \$edgeboot_t -O \/dev\/null "http:\/\/10\.0\.0\.2:8067\/h\/\S+\/events\?phase=installing" \|\| true$/m);
    expect(text).toContain("<secret:ROOT_HASH>");
    expect(text).not.toContain(ROOT_HASH);
  });
});

describe("Debian installer: the reports those commands send", () => {
  it("GET ?phase=installing (through the relay) records the installer's event and the host state; installed ends the session", async () => {
    const { site, via, token } = await lab();
    expect((await call(`/boot/h/${token}/files/preseed`, { headers: via })).status).toBe(200);
    const installing = await call(`/boot/h/${token}/events?phase=installing`, { headers: via });
    expect(installing.status, installing.body).toBe(200);
    expect((await hostRow("host-1"))!.state).toBe("installing");
    const installed = await call(`/boot/h/${token}/events?phase=installed`, { headers: via });
    expect(installed.status, installed.body).toBe(200);
    expect((await hostRow("host-1"))!.state).toBe("installed");
    const host = (await eventsOf(site.id)).filter((e) => e.source === "host").map((e) => e.phase);
    expect(host).toEqual(["installing", "installed"]);
    // The preseed names a secret: once the install is reported done, the token reads it no more.
    const after = await call(`/boot/h/${token}/files/preseed`, { headers: via });
    expect(after.status).toBe(410);
    expect(JSON.parse(after.body).error.code).toBe("boot_done");
  });

  it("a failed operator late command reports failed", async () => {
    const { via, token } = await lab();
    expect((await call(`/boot/h/${token}/events?phase=failed`, { headers: via })).status).toBe(200);
    expect((await hostRow("host-1"))!.state).toBe("failed");
  });
});
