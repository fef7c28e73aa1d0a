// Contexts: named API URL + token pairs in $XDG_CONFIG_HOME/edgeboot/config.yaml (default ~/.config/…), like kubectl's
// kubeconfig. EDGEBOOT_API and EDGEBOOT_TOKEN override the current context, so CI needs no file at all.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { CliError } from "./errors.ts";

export type Context = { api: string; token?: string; site?: string };
export type ConfigFile = { current: string | null; contexts: Record<string, Context> };

// Checked by hand: the file is tiny, and zod would cost every command half a second of start-up.
function checkConfig(raw: unknown): ConfigFile | string {
  const o = (raw ?? {}) as Record<string, unknown>;
  if (typeof o !== "object" || Array.isArray(o)) return "not a mapping";
  const current = o.current ?? null;
  if (current !== null && typeof current !== "string") return "current: a context name";
  const contexts = (o.contexts ?? {}) as Record<string, Record<string, unknown>>;
  if (typeof contexts !== "object" || Array.isArray(contexts)) return "contexts: a mapping of names to {api, token, site}";
  for (const [name, c] of Object.entries(contexts)) {
    if (!c || typeof c.api !== "string" || !/^https?:\/\/[^/]/.test(c.api)) return `contexts.${name}.api: an http(s) URL`;
    for (const k of Object.keys(c)) if (!["api", "token", "site"].includes(k)) return `contexts.${name}.${k}: unknown field`;
    if (c.token !== undefined && typeof c.token !== "string") return `contexts.${name}.token: a string`;
    if (c.site !== undefined && typeof c.site !== "string") return `contexts.${name}.site: a string`;
  }
  return { current, contexts: contexts as Record<string, Context> };
}

export type Env = Record<string, string | undefined>;

export const configPath = (env: Env) => join(env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config"), "edgeboot", "config.yaml");

export async function loadConfig(env: Env): Promise<ConfigFile> {
  const path = configPath(env);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return { current: null, contexts: {} };
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new CliError("bad_config", `${path}: ${(err as Error).message.split("\n")[0]}`);
  }
  const checked = checkConfig(raw);
  if (typeof checked === "string") throw new CliError("bad_config", `${path}: ${checked}`);
  return checked;
}

// The file holds tokens: written 0600 in a 0700 directory, replaced atomically.
export async function saveConfig(env: Env, config: ConfigFile): Promise<string> {
  const path = configPath(env);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, stringify(config), { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}

export type Target = { api: string; token: string; site: string | null; context: string | null };

// Flags beat the environment, which beats the context file.
export async function resolveTarget(env: Env, flags: { context?: string; api?: string; site?: string }): Promise<Target> {
  const config = await loadConfig(env);
  const name = flags.context ?? env.EDGEBOOT_CONTEXT ?? config.current;
  const ctx = name ? config.contexts[name] : undefined;
  if (flags.context && !ctx) throw new CliError("no_context", `no context named "${flags.context}" in ${configPath(env)}`);
  const api = flags.api ?? env.EDGEBOOT_API ?? env.EDGEBOOT_API_URL ?? ctx?.api;
  if (!api) throw new CliError("no_api", `no API URL: set EDGEBOOT_API, pass --api, or run \`edgeboot context set NAME --api URL\``);
  if (!/^https?:\/\/[^/]/.test(api)) throw new CliError("no_api", `the API URL must be http(s)://…; got "${api}"`);
  const token = env.EDGEBOOT_TOKEN ?? ctx?.token;
  if (!token) throw new CliError("no_token", `no token: set EDGEBOOT_TOKEN, or store one with \`edgeboot context set ${name ?? "NAME"} --api URL --token-stdin\``);
  return { api: api.replace(/\/+$/, ""), token, site: flags.site ?? env.EDGEBOOT_SITE ?? ctx?.site ?? null, context: name ?? null };
}
