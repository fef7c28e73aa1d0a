// Contexts: named API URL + token pairs in $XDG_CONFIG_HOME/edgeboot/config.yaml (default ~/.config/…), like kubectl's
// kubeconfig. EDGEBOOT_API and EDGEBOOT_TOKEN override the current context, so CI needs no file at all.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { z } from "zod";
import { CliError } from "./errors.ts";

const Context = z.strictObject({
  api: z.url({ protocol: /^https?$/, message: "api must be an http(s) URL" }),
  token: z.string().min(1).optional(),
  site: z.string().optional(),
});
export type Context = z.infer<typeof Context>;

const ConfigFile = z.strictObject({
  current: z.string().nullable().default(null),
  contexts: z.record(z.string(), Context).default({}),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

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
  const parsed = ConfigFile.safeParse(parse(text) ?? {});
  if (!parsed.success) throw new CliError("bad_config", `${path}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  return parsed.data;
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
