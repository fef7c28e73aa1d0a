// Recipe tests: each recipe is created through the admin API (worker/recipes/apply.ts, as the demo seed does), then
// fetched the way its machine does (chain, files, NoCloud). Rendered text is compared exactly after two
// normalisations that keep its structure visible: host tokens become TOKEN, artifact hashes become <role> (<role>N for
// the Nth initrd), so a hash in the wrong place still fails.
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { applyRecipe, placeholderBytes, type ApiCall } from "../../../worker/recipes/apply.ts";
import type { Recipe } from "../../../worker/recipes/recipe.ts";
import { call, tokensIn, withoutTokens } from "../boot/seed.ts";

export const SITE = "lab";

export const adminCall: ApiCall = async (method, path, body, raw) => {
  const headers: Record<string, string> = { authorization: `Bearer ${env.ADMIN_TOKEN}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await (exports as any).default.fetch(new Request(`http://api.test${path}`, { method, headers, body: raw ?? (body === undefined ? undefined : JSON.stringify(body)) }));
  const text = await res.text();
  return { status: res.status, body: text && (res.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text };
};

export async function labSite(fields: Record<string, unknown> = {}) {
  const res = await adminCall("POST", "/v1/sites", { slug: SITE, name: "Lab", bootAuth: "open", ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

export async function sha256Hex(bytes: Uint8Array) {
  return [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// hash → its name in expected text: <kernel>, <initrd0>, <rootfs>, …
export async function roleNames(recipe: Recipe): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [role, value] of Object.entries(recipe.image.artifacts)) {
    const files = Array.isArray(value) ? value : [value];
    for (const [i, f] of files.entries()) out.set(await sha256Hex(placeholderBytes(recipe, role, f)), Array.isArray(value) ? `<${role}${i}>` : `<${role}>`);
  }
  return out;
}

export async function normalise(text: string, recipe: Recipe) {
  let out = withoutTokens(text);
  for (const [sha, name] of await roleNames(recipe)) out = out.split(sha).join(name);
  return out;
}

export async function setUp(recipe: Recipe) {
  await labSite();
  const created = await applyRecipe(adminCall, recipe, SITE);
  return created;
}

// The chain as iPXE asks for it (the relay forwards iPXE's own query), and the host token it carries.
export async function chainOf(mac: string, init: RequestInit = {}) {
  const res = await call(`/boot/${SITE}/ipxe?mac=${mac}&uuid=&serial=&arch=x86_64&platform=efi`, init);
  expect(res.status, res.body).toBe(200);
  return { body: res.body, token: tokensIn(res.body)[0]! };
}

export async function fetchAs(token: string, path: string) {
  const res = await call(`/boot/h/${token}/${path}`);
  return { status: res.status, type: res.headers.get("content-type"), body: res.body };
}

// The script every single-profile chain has around its kernel line (worker/render/ipxe.ts renderBootScript).
export function bootScript(a: { comment: string; kernel: string; initrds: string[]; name: string; base?: string }) {
  const base = a.base ?? "http://api.test/boot/h/TOKEN";
  return [
    "#!ipxe",
    `# ${a.comment}`,
    "set attempt:int32 0",
    ":retry",
    "iseq ${attempt} 3 && goto failed ||",
    "inc attempt",
    "imgfree",
    `kernel --name kernel ${a.kernel} || goto retry`,
    ...a.initrds.map((u, i) => `initrd --name initrd${i} ${u} || goto retry`),
    "boot || goto retry",
    ":failed",
    `echo edgeboot: ${a.name} did not boot after 3 attempts, falling back to the local disk`,
    `imgfetch ${base}/events?phase=boot-failed ||`,
    "goto local",
    ":local",
    "imgfree",
    "iseq ${platform} pcbios && sanboot --no-describe --drive 0x80 ||",
    "exit 1",
    "",
  ].join("\n");
}
