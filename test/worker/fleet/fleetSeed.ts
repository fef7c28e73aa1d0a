// Fleet-scale seeds for the Workers runtime: a site with N hosts written by a few big multi-row INSERTs (a 10k-host
// site in well under a second), and a fresh schema per test.
import { applyD1Migrations, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";

export async function resetDb() {
  await reset();
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
}

// A site with `count` hosts (index i: hostname node-<i>, MAC 02:<site>:…<i>, UUID …<site><i>, serial SN<site>-<i>),
// all on one profile, in one INSERT … SELECT over a recursive counter. Plus the image and profile they boot. Hosts 1
// and 2 have no MAC: a request with a MAC matches by UUID or serial only such records (worker/boot/README.md).
export async function seedFleet(siteNo: number, count: number, fields: { slug: string; policy?: "discover" | "default" | "deny" }) {
  const siteId = `site-${fields.slug}`;
  const d1 = env.DB;
  await d1.batch([
    d1.prepare("INSERT OR IGNORE INTO images (id, name, arch, version, artifacts) VALUES ('img-os', 'os', 'x86_64', '1', ?)").bind(
      JSON.stringify({ kernel: "aa".repeat(32), initrd: ["bb".repeat(32)] }),
    ),
    d1.prepare("INSERT OR IGNORE INTO profiles (id, name, image, cmdline, user_data) VALUES ('prf-os', 'os', 'os', 'console=ttyS0 hostname={{ host.hostname }}', '#cloud-config\n')"),
    d1.prepare("INSERT INTO sites (id, slug, name, boot_auth, unknown_host_policy) VALUES (?, ?, ?, 'open', ?)").bind(siteId, fields.slug, fields.slug, fields.policy ?? "discover"),
    d1
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)
         INSERT INTO hosts (id, site_id, hostname, mac, uuid, serial, profile_id, state)
         SELECT printf('h%d-%d', ?3, i), ?1, printf('node-%06d', i), CASE WHEN i IN (1, 2) THEN NULL ELSE ${macSql("?3", "i")} END, ${uuidSql("?3", "i")}, ${serialSql("?3", "i")}, 'prf-os',
                CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'ready' END
         FROM n`,
      )
      .bind(siteId, count, siteNo),
  ]);
  return { siteId, slug: fields.slug };
}

const macSql = (s: string, i: string) => `printf('02:%02x:%02x:%02x:%02x:%02x', ${s}, (${i} >> 24) & 255, (${i} >> 16) & 255, (${i} >> 8) & 255, ${i} & 255)`;
const uuidSql = (s: string, i: string) => `printf('4c4c4544-%04x-4000-8000-%012x', ${s}, ${i})`;
const serialSql = (s: string, i: string) => `printf('SN%d-%07d', ${s}, ${i})`;

const hex = (n: number, w: number) => n.toString(16).padStart(w, "0");
// The same identities in JS, for requests.
export const fleetHost = (siteNo: number, i: number) => ({
  hostname: `node-${String(i).padStart(6, "0")}`,
  mac: [2, siteNo, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255].map((b) => hex(b, 2)).join(":"),
  uuid: `4c4c4544-${hex(siteNo, 4)}-4000-8000-${hex(i, 12)}`,
  serial: `SN${siteNo}-${String(i).padStart(7, "0")}`,
});

const HISTORY_PHASES = ["dhcp-offer", "dhcp-ack-4011", "tftp-sent", "chain-served", "artifact-fetched", "artifact-fetched", "nocloud-meta-data", "nocloud-user-data", "nocloud-network-config", "booted"];

// One past boot per host, as a day-old site would have: an ended boot session and ~10 events per host; and a secret.
export async function seedHistory(siteId: string, at = Date.now() - 86_400_000) {
  const d1 = env.DB;
  await d1.batch([
    d1
      .prepare(
        `INSERT INTO boot_sessions (id, site_id, host_id, mac, delivery, state, issued_at, secret_until, expires_at, ended_at)
         SELECT 'past-' || id, site_id, id, mac, 'once', 'done', ?2, ?2 + 3600000, ?2 + 86400000, ?2 + 600000 FROM hosts WHERE site_id = ?1`,
      )
      .bind(siteId, at),
    d1
      .prepare(
        `INSERT INTO events (site_id, host_id, mac, source, phase, boot_session, at)
         SELECT h.site_id, h.id, h.mac, 'worker', p.phase, 'past-' || h.id, ?2 + p.k * 1000 FROM hosts h, (SELECT value AS phase, key AS k FROM json_each(?3)) p WHERE h.site_id = ?1`,
      )
      .bind(siteId, at, JSON.stringify(HISTORY_PHASES)),
    // A per-host secret for every host but the first ten (the ones the tests boot), so a scan of secrets would show.
    d1
      .prepare(`INSERT INTO secrets (id, site_id, host_id, name, iv, ciphertext) SELECT 'sec-' || id, NULL, id, 'bmc', 'AAAA', 'AAAA' FROM hosts WHERE site_id = ?1 AND hostname >= 'node-000010'`)
      .bind(siteId),
  ]);
}
