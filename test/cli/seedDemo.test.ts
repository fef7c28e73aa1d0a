// `npm start`'s demo seed (worker/dev/seedDemo.mjs) against a real `wrangler dev`: it creates the demo site and every
// recipe through the admin API, a second run creates nothing (it runs on every start), and each recipe host then
// gets a chain (placeholder artifacts render; they only fail to boot).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedDemo } from "../../worker/dev/seedDemo.mjs";
import { RECIPES } from "../../worker/recipes/index.ts";
import { startWranglerDev, type WranglerDev } from "../helpers/wrangler.ts";

let api: WranglerDev;

beforeAll(async () => {
  api = await startWranglerDev();
}, 240_000);

afterAll(async () => {
  await api?.stop();
}, 60_000);

describe("demo seed", () => {
  it("creates the demo and one profile, image and host per recipe, then nothing on a second run", async () => {
    const first: string[] = await seedDemo(api.url, api.adminToken);
    expect(first.slice(0, 3)).toEqual(["profile demo-linux", "site demo", "host demo-node-1"]);
    for (const r of RECIPES) {
      expect(first).toContain(`profile ${r.profile.name} (recipe ${r.id})`);
      expect(first).toContain(`host ${r.host.hostname} (recipe ${r.id})`);
    }
    const started = Date.now();
    expect(await seedDemo(api.url, api.adminToken)).toEqual([]);
    console.log(`second seed run (nothing to create): ${Date.now() - started} ms`);
  }, 120_000);

  it("every recipe host gets its chain, naming the recipe's profile", async () => {
    for (const r of RECIPES) {
      const res = await fetch(`${api.url}/boot/demo/ipxe?mac=${r.host.mac}&arch=x86_64&platform=efi`);
      const text = await res.text();
      expect(res.status, text).toBe(200);
      expect(text).toContain(`profile=${r.profile.name} image=${r.image.name}`);
    }
  }, 60_000);
});
