// What every API command needs: the resolved target (flags > env > context), a client and the output format.
import type { Command } from "commander";
import { apiClient, type Api } from "./api.ts";
import { resolveTarget, type Env, type Target } from "./config.ts";
import { usage } from "./errors.ts";
import { parseFormat, type Format } from "./output.ts";

export type Session = { api: Api; target: Target; format: Format; env: Env };
export type Globals = { context?: string; api?: string; site?: string; output?: string };

export async function session(cmd: Command, env: Env): Promise<Session> {
  const g = cmd.optsWithGlobals<Globals>();
  const format = parseFormat(g.output);
  const target = await resolveTarget(env, { context: g.context, api: g.api, site: g.site });
  return { api: apiClient(target), target, format, env };
}

export function siteOf(s: Session): string {
  if (!s.target.site) throw usage("which site? pass --site SLUG, set EDGEBOOT_SITE, or store one in the context (`edgeboot context set NAME --site SLUG`)");
  return s.target.site;
}
