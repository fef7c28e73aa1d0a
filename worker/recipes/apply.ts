// Creates a recipe through the admin API the way an operator would, idempotently (a second run changes nothing):
// used by the demo seed (worker/dev/seedDemo.mjs) and by the recipe tests. Artifacts are placeholders, named as such
// (`placeholderBytes`): the demo has no real kernels, and a test only needs hashes the API has.
import type { Recipe } from "./recipe.ts";

export type ApiCall = (method: string, path: string, body?: unknown, raw?: Uint8Array) => Promise<{ status: number; body: any }>;

export const placeholderBytes = (recipe: Recipe, role: string, file: string) =>
  new TextEncoder().encode(`edgeboot demo placeholder for recipe ${recipe.id}, role ${role} (${file}); not bootable: upload the real file (worker/recipes/README.md)\n`);

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function must(call: ApiCall, ok: number[], method: string, path: string, body?: unknown, raw?: Uint8Array) {
  const res = await call(method, path, body, raw);
  if (!ok.includes(res.status)) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

const q = encodeURIComponent;

/** The image's artifacts as hashes, uploading each placeholder (201 new, 200 already there). */
export async function uploadPlaceholders(call: ApiCall, recipe: Recipe): Promise<Record<string, string | string[]>> {
  const out: Record<string, string | string[]> = {};
  const one = async (role: string, file: string) => {
    const bytes = placeholderBytes(recipe, role, file);
    const sha = await sha256Hex(bytes);
    await must(call, [200, 201], "PUT", `/v1/artifacts/${sha}`, undefined, bytes);
    return sha;
  };
  for (const [role, value] of Object.entries(recipe.image.artifacts)) {
    out[role] = Array.isArray(value) ? await Promise.all(value.map((f) => one(role, f))) : await one(role, value);
  }
  return out;
}

/** Image, profile, host, secrets, then the host's profile; returns what it created. */
export async function applyRecipe(call: ApiCall, recipe: Recipe, site: string): Promise<string[]> {
  const created: string[] = [];
  const { image, profile, host } = recipe;
  if ((await call("GET", `/v1/images/${q(image.name)}?arch=${q(image.arch)}`)).status === 404) {
    const artifacts = await uploadPlaceholders(call, recipe);
    await must(call, [201], "POST", "/v1/images", { name: image.name, arch: image.arch, version: image.version, artifacts });
    created.push(`image ${image.name}`);
  }
  if ((await call("GET", `/v1/profiles/${q(profile.name)}`)).status === 404) {
    await must(call, [201], "POST", "/v1/profiles", { image: image.name, ...profile });
    created.push(`profile ${profile.name}`);
  }
  const hostPath = `/v1/sites/${q(site)}/hosts/${q(host.hostname)}`;
  let current = await call("GET", hostPath);
  if (current.status === 404) {
    // Without its profile first: the profile's templates may name host secrets that do not exist yet.
    current = await must(call, [201], "POST", `/v1/sites/${q(site)}/hosts`, { hostname: host.hostname, mac: host.mac, ...(host.vars ? { vars: host.vars } : {}) });
    created.push(`host ${host.hostname}`);
  }
  // Names only (values are never read back): a secret already set is left as the operator set it.
  const listed = await must(call, [200], "GET", `/v1/secrets?site=${q(site)}&host=${q(host.hostname)}&limit=100`);
  const siteListed = await must(call, [200], "GET", `/v1/secrets?site=${q(site)}&limit=100`);
  const have = new Set([
    ...(listed.body.items as { name: string }[]).map((s) => `host:${s.name}`),
    ...(siteListed.body.items as { name: string; host: string | null }[]).filter((s) => !s.host).map((s) => `site:${s.name}`),
  ]);
  for (const s of recipe.secrets ?? []) {
    if (have.has(`${s.scope}:${s.name}`)) continue;
    const scope = s.scope === "host" ? `&host=${q(host.hostname)}` : "";
    await must(call, [200, 201], "PUT", `/v1/secrets/${q(s.name)}?site=${q(site)}${scope}`, { value: s.demoValue });
    created.push(`secret ${s.name}`);
  }
  if (current.body?.profile !== profile.name) await must(call, [200], "PATCH", hostPath, { profile: profile.name });
  return created;
}
