// Debian installer recipe (worker/recipes/debian-installer.md): the exact chain (preseed URL before `---`, no NoCloud
// seed) and the exact preseed the host reads, with edgeboot's progress commands; a malformed preseed is refused at
// save, naming the field and line. The same recipe boots Debian's real netboot installer in test/e2e/installer.test.ts.
import { describe, expect, it } from "vitest";
import { debian } from "../../../worker/recipes/debian.ts";
import { freshStoragePerTest } from "../boot/seed.ts";
import { adminCall, bootScript, chainOf, fetchAs, normalise, setUp } from "./harness.ts";

freshStoragePerTest();

const API = "http://api.test/boot/h/TOKEN";
const HASH = debian.secrets![0]!.demoValue;
const OPTS = "edgeboot_t=; wget --version 2>/dev/null | grep -q 'GNU Wget' && edgeboot_t='-T 10 -t 2'";
const report = (phase: string) => `wget -q $edgeboot_t -O /dev/null "${API}/events?phase=${phase}" || true`;

describe("Debian installer (netboot d-i, per-host preseed)", () => {
  it("chains d-i's kernel and initrd with auto=true priority=critical url=<preseed>, edgeboot's URL before ---", async () => {
    expect(await setUp(debian)).toEqual(["image debian12-installer", "profile debian12-preseed", "host debian-1", "secret rootPasswordHash"]);
    const { body } = await chainOf(debian.host.mac);
    expect(await normalise(body, debian)).toBe(
      bootScript({
        comment: "edgeboot site=lab host=debian-1 profile=debian12-preseed image=debian12-installer 20230607+deb12u15 x86_64",
        kernel: `${API}/artifacts/<kernel> initrd=initrd0 auto=true priority=critical url=${API}/files/preseed interface=auto hostname=debian-1 domain=example.net --- console=ttyS0,115200n8`,
        initrds: [`${API}/artifacts/<initrd0>`],
        name: "debian12-preseed",
      }),
    );
  });

  it("serves the host's preseed: its values, the root hash from the host secret, installing and installed reported", async () => {
    await setUp(debian);
    const { token } = await chainOf(debian.host.mac);
    const res = await fetchAs(token, "files/preseed");
    expect([res.status, res.type]).toEqual([200, "text/plain; charset=utf-8"]);
    expect(await normalise(res.body, debian)).toBe(`#_preseed_V1
# Debian 12 (bookworm), one host. Network and hostname come from the kernel line (read before this file).
# edgeboot: installer progress to the boot timeline (installing, installed)
d-i preseed/early_command string ${OPTS}; ${report("installing")}
d-i preseed/late_command string ${OPTS}; ${report("installed")}
d-i debian-installer/locale string en_US.UTF-8
d-i keyboard-configuration/xkb-keymap select us
d-i netcfg/choose_interface select auto
d-i netcfg/get_hostname string debian-1
d-i netcfg/get_domain string example.net
d-i hw-detect/load_firmware boolean false
d-i mirror/country string manual
d-i mirror/http/hostname string deb.debian.org
d-i mirror/http/directory string /debian
d-i mirror/http/proxy string
d-i passwd/root-password-crypted password ${HASH}
d-i passwd/make-user boolean false
d-i clock-setup/utc boolean true
d-i time/zone string UTC
d-i clock-setup/ntp boolean true
d-i partman-auto/disk string /dev/sda
d-i partman-auto/method string regular
d-i partman-auto/choose_recipe select atomic
d-i partman-partitioning/confirm_write_new_label boolean true
d-i partman/choose_partition select finish
d-i partman/confirm boolean true
d-i partman/confirm_nooverwrite boolean true
tasksel tasksel/first multiselect standard, ssh-server
d-i pkgsel/upgrade select full-upgrade
popularity-contest popularity-contest/participate boolean false
d-i grub-installer/only_debian boolean true
d-i grub-installer/bootdev string /dev/sda
d-i finish-install/reboot_in_progress note
`);
    // It names a secret: served once per boot session under the default delivery policy.
    expect((await fetchAs(token, "files/preseed")).status).toBe(410);
  });

  it("refuses a malformed preseed at save, naming the field and the line, and stores nothing", async () => {
    await setUp(debian);
    const bad = `${debian.profile.files!.preseed!.template}d-i passwd/make-user boolean maybe\n`;
    const res = await adminCall("PATCH", `/v1/profiles/${debian.profile.name}`, { files: { preseed: { kind: "preseed", template: bad } } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.field).toBe("files.preseed.template");
    expect(res.body.error.message).toMatch(/line 31: a boolean is true or false/);
    const kept = await adminCall("GET", `/v1/profiles/${debian.profile.name}`);
    expect(kept.body.files.preseed.template).toBe(debian.profile.files!.preseed!.template);
  });
});
