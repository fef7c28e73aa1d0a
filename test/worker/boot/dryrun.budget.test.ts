// The admin dry run renders the kernel line with real-length host tokens: it fails exactly when the live chain does,
// at Linux's budget to the byte (worker/render/kernelArgs.ts), with and without a host's network-config=.
import { describe, expect, it } from "vitest";
import { MAX_KERNEL_ARGS } from "../../../worker/render/kernelArgs.ts";
import { call, freshStoragePerTest, ROOT, seedHost, seedImage, seedProfile, seedSite } from "./seed.ts";

freshStoragePerTest();

const MAC = "52:54:00:12:34:56";
const kernelArgs = (script: string) => script.split("\n").find((l) => l.startsWith("kernel "))!.replace(/^kernel --name kernel \S+ /, "").replace(/ \|\| goto retry$/, "");
const bytes = (s: string) => new TextEncoder().encode(s).length;

async function lab(cmdline: string, network: Parameters<typeof seedHost>[0]["network"] = null) {
  const site = await seedSite({ slug: "lab" });
  await seedImage({ name: "debian" });
  await seedProfile({ name: "p", image: "debian", cmdline });
  await seedHost({ id: "host-1", siteId: site.id, hostname: "node-1", mac: MAC, profileId: "prf-p", network });
}

const setCmdline = async (cmdline: string) => {
  const { env } = await import("cloudflare:workers");
  await env.DB.prepare("update profiles set cmdline = ? where id = 'prf-p'").bind(cmdline).run();
};

describe("kernel line budget: dry run and chain agree to the byte", () => {
  for (const network of [null, { addresses: ["10.0.0.5/24", "fd00::5/64"], gateway4: "10.0.0.1", gateway6: "fd00::1", nameservers: ["10.0.0.53"] }]) {
    it(network ? "with static network (network-config=)" : "without static network", async () => {
      await lab("x", network);
      const first = await call(`/boot/lab/ipxe?mac=${MAC}`);
      expect(first.status).toBe(200);
      const base = bytes(kernelArgs(first.body));
      // Pad the cmdline so the live line is exactly at the budget, then one byte over.
      await setCmdline(`x${"y".repeat(MAX_KERNEL_ARGS - base)}`);
      const chain = await call(`/boot/lab/ipxe?mac=${MAC}`);
      expect(chain.status).toBe(200);
      expect(bytes(kernelArgs(chain.body))).toBe(MAX_KERNEL_ARGS);
      const dry = await call("/v1/sites/lab/hosts/node-1/render/ipxe", { headers: ROOT });
      expect(dry.status).toBe(200);
      expect(dry.body).toContain("<host-token>");

      await setCmdline(`x${"y".repeat(MAX_KERNEL_ARGS - base + 1)}`);
      const over = await call(`/boot/lab/ipxe?mac=${MAC}`);
      expect(over.status).toBe(500);
      expect(over.body).toContain(`kernel command line is ${MAX_KERNEL_ARGS + 1} bytes`);
      const dryOver = await call("/v1/sites/lab/hosts/node-1/render/ipxe", { headers: ROOT });
      expect(dryOver.status).toBe(500);
      expect(JSON.parse(dryOver.body).error.message).toContain(`kernel command line is ${MAX_KERNEL_ARGS + 1} bytes`);
    });
  }
});
