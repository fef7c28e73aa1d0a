// Seeds a demo site, profile and host through the admin API, like an operator would; idempotent. Then one profile,
// image and host per recipe (worker/recipes/README.md) in the demo site, with placeholder artifacts named as such:
// their chains and files render (`curl …/boot/demo/ipxe?mac=52:54:00:de:00:01`), they do not boot until the real
// kernels are uploaded.
import { applyRecipe } from "../recipes/apply.ts";
import { RECIPES } from "../recipes/index.ts";

export async function seedDemo(baseUrl, token) {
  const call = async (method, path, body, raw) => {
    const res = await fetch(new URL(path, baseUrl), {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: raw ?? (body ? JSON.stringify(body) : undefined),
    });
    const text = await res.text();
    const json = (res.headers.get("content-type") ?? "").includes("json");
    return { status: res.status, body: text && json ? JSON.parse(text) : text || null };
  };
  const created = [];
  const ensure = async (getPath, postPath, body, label) => {
    const existing = await call("GET", getPath);
    if (existing.status === 200) return;
    const res = await call("POST", postPath, body);
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`seeding ${label} failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
    created.push(label);
  };
  await ensure("/v1/profiles/demo-linux", "/v1/profiles", {
    name: "demo-linux",
    description: "Demo profile: a cloud-init host on the serial console",
    cmdline: "console=ttyS0",
    userData: "#cloud-config\nhostname: {{ host.hostname }}\n",
  }, "profile demo-linux");
  await ensure("/v1/sites/demo", "/v1/sites", {
    slug: "demo",
    name: "Demo lab",
    bootAuth: "open",
    unknownHostPolicy: "discover",
  }, "site demo");
  await ensure("/v1/sites/demo/hosts/demo-node-1", "/v1/sites/demo/hosts", {
    hostname: "demo-node-1",
    mac: "52:54:00:12:34:56",
    profile: "demo-linux",
  }, "host demo-node-1");
  // Recipes touch disjoint names, so they go in parallel (a warm start is then a few round trips, not ~35 in a row).
  const results = await Promise.allSettled(RECIPES.map((recipe) => applyRecipe(call, recipe, "demo")));
  const failed = [];
  results.forEach((r, i) => {
    const id = RECIPES[i].id;
    if (r.status === "fulfilled") created.push(...r.value.map((what) => `${what} (recipe ${id})`));
    else failed.push(`recipe ${id}: ${r.reason?.message ?? r.reason}`);
  });
  if (failed.length) throw new Error(`seeding failed:\n  ${failed.join("\n  ")}${created.length ? `\n(seeded: ${created.join(", ")})` : ""}`);
  return created;
}
