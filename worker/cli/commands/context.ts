// `edgeboot context …`: named API + token pairs (kubectl-style), stored 0600 under $XDG_CONFIG_HOME/edgeboot/.
import type { Command } from "commander";
import { text } from "node:stream/consumers";
import { configPath, loadConfig, saveConfig, type Env } from "../config.ts";
import { usage } from "../errors.ts";
import { printList } from "../output.ts";

export function contextCommands(program: Command, env: Env): void {
  const group = program.command("context").description(`API contexts (URL, token, default site) in ${configPath(env)}`);
  group
    .command("set")
    .argument("<name>")
    .description("create or update a context and make it current")
    .option("--api <url>", "the API's base URL, e.g. https://edgeboot.example.workers.dev")
    .option("--token-stdin", "read the token from stdin (keeps it out of ps and shell history)")
    .option("--token-env <VAR>", "copy the token from this environment variable")
    .option("--site <slug>", "default site for site-scoped commands")
    .action(async (name: string, _o: unknown, cmd: Command) => {
      // --api and --site are also global options; whichever level commander bound them to counts.
      const o = cmd.optsWithGlobals<{ api?: string; tokenStdin?: boolean; tokenEnv?: string; site?: string }>();
      const config = await loadConfig(env);
      const prev = config.contexts[name];
      const api = o.api ?? prev?.api;
      if (!api) throw usage("a new context needs --api URL");
      let token = prev?.token;
      if (o.tokenStdin) token = (await text(process.stdin)).trim();
      if (o.tokenEnv) token = env[o.tokenEnv] ?? (() => { throw usage(`environment variable ${o.tokenEnv} is not set`); })();
      config.contexts[name] = { api: api.replace(/\/+$/, ""), ...(token ? { token } : {}), ...((o.site ?? prev?.site) ? { site: o.site ?? prev?.site } : {}) };
      config.current = name;
      const path = await saveConfig(env, config);
      process.stderr.write(`context ${name} saved in ${path} and made current\n`);
    });
  group
    .command("use")
    .argument("<name>")
    .action(async (name: string) => {
      const config = await loadConfig(env);
      if (!config.contexts[name]) throw usage(`no context named "${name}"`);
      config.current = name;
      await saveConfig(env, config);
    });
  group
    .command("list")
    .alias("ls")
    .action(async () => {
      const config = await loadConfig(env);
      const rows = Object.entries(config.contexts).map(([name, c]) => ({ name, current: name === config.current, api: c.api, site: c.site ?? null, token: c.token ? "(set)" : null }));
      printList(rows, [["", (r) => (r.current ? "*" : " ")], ["NAME", (r) => r.name], ["API", (r) => r.api], ["SITE", (r) => r.site], ["TOKEN", (r) => r.token]], "table");
    });
  group
    .command("delete")
    .argument("<name>")
    .action(async (name: string) => {
      const config = await loadConfig(env);
      if (!config.contexts[name]) throw usage(`no context named "${name}"`);
      delete config.contexts[name];
      if (config.current === name) config.current = null;
      await saveConfig(env, config);
    });
}
