// `edgeboot sites|hosts|profiles|images|tokens|relays|rules|secrets list|get|create|delete`: one table of columns and paths
// per resource; create takes a few flags for the common fields plus --data for anything the API accepts.
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { enc } from "../api.ts";
import type { Env } from "../config.ts";
import { CliError, usage } from "../errors.ts";
import { printList, printOne, type Column } from "../output.ts";
import { session, siteOf, type Session } from "../session.ts";
import { readSecretValue } from "./secretValue.ts";

type Row = Record<string, any>;
const short = (sha: unknown) => (typeof sha === "string" ? sha.slice(0, 12) : sha);
const ago = (iso: unknown) => (typeof iso === "string" ? iso.replace(/\.\d+Z$/, "Z") : iso);

const collect = (v: string, prev: string[] = []) => [...prev, v];
const keyValues = (list: string[] | undefined, flag: string) =>
  list === undefined
    ? undefined
    : Object.fromEntries(
        list.map((kv) => {
          const at = kv.indexOf("=");
          if (at < 1) throw usage(`${flag} takes key=value; got "${kv}"`);
          return [kv.slice(0, at), kv.slice(at + 1)];
        }),
      );

// `@path` names a file to read; a file that cannot be read is a usage error naming the flag, not a crash.
function fileArg(value: string, flag: string): string {
  try {
    return readFileSync(value.slice(1), "utf8");
  } catch (err) {
    throw usage(`${flag} ${value}: cannot read ${value.slice(1)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

// --data '{"json":…}' or --data @file.(json|yaml): the request body, merged under the flags.
function dataOf(value: string | undefined): Row {
  if (value === undefined) return {};
  const text = value.startsWith("@") ? fileArg(value, "--data") : value;
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw usage(`--data is not JSON or YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw usage("--data must be a JSON or YAML object (or @file)");
  return parsed as Row;
}
// --user-data @file reads a file; any other value is the text itself.
const textArg = (v: string | undefined, flag: string) => (v === undefined ? undefined : v.startsWith("@") ? fileArg(v, flag) : v);
const defined = (o: Row) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

type Spec = {
  name: string;
  what: string;
  key: string; // the argument get/delete take
  columns: Column<Row>[];
  list: (s: Session, o: Row) => string;
  one: (s: Session, key: string, o: Row) => string;
  create?: { args: string; options: (c: Command) => Command; path: (s: Session, o: Row) => string; body: (args: string[], o: Row) => Row; method?: string };
  deleteOptions?: (c: Command) => Command;
  deleteQuery?: (o: Row) => string;
};

const site = (s: Session) => `/v1/sites/${enc(siteOf(s))}`;
const archQ = (o: Row) => (o.arch ? `?arch=${enc(o.arch)}` : "");
const secretScopeQ = (s: Session, o: Row) => {
  const q = new URLSearchParams();
  if (o.global) return "";
  if (s.target.site) q.set("site", s.target.site);
  if (o.host) {
    if (!s.target.site) throw usage("--host needs --site");
    q.set("host", o.host);
  }
  const str = q.toString();
  return str ? `?${str}` : "";
};

const SPECS: Spec[] = [
  {
    name: "sites",
    what: "site",
    key: "slug",
    columns: [["SLUG", (r) => r.slug], ["NAME", (r) => r.name], ["BOOT AUTH", (r) => r.bootAuth], ["UNKNOWN HOSTS", (r) => r.unknownHostPolicy], ["DEFAULT PROFILE", (r) => r.defaultProfile], ["REV", (r) => r.revision]],
    list: () => "/v1/sites",
    one: (_s, k) => `/v1/sites/${enc(k)}`,
    create: {
      args: "<slug>",
      options: (c) =>
        c
          .requiredOption("--name <name>", "display name")
          .addOption(new Option("--boot-auth <mode>", "who may fetch chains (default relay: only the site's relays)").choices(["relay", "key", "open"]))
          .addOption(new Option("--unknown-host-policy <policy>").choices(["discover", "default", "deny"]))
          .option("--default-profile <profile>"),
      path: () => "/v1/sites",
      body: ([slug], o) => defined({ slug, name: o.name, bootAuth: o.bootAuth, unknownHostPolicy: o.unknownHostPolicy, defaultProfile: o.defaultProfile }),
    },
    deleteOptions: (c) => c.option("--force", "also delete the site's hosts and relays"),
    deleteQuery: (o) => (o.force ? "?force=true" : ""),
  },
  {
    name: "hosts",
    what: "host",
    key: "host",
    columns: [["HOSTNAME", (r) => r.hostname], ["MAC", (r) => r.mac], ["PROFILE", (r) => r.profile], ["STATE", (r) => r.state], ["IPV4", (r) => r.ipv4], ["LABELS", (r) => r.labels], ["LAST SEEN", (r) => ago(r.lastSeenAt)]],
    list: (s, o) => `${site(s)}/hosts${o.state ? `?state=${enc(o.state)}` : ""}`,
    one: (s, k) => `${site(s)}/hosts/${enc(k)}`,
    create: {
      args: "[hostname]",
      options: (c) =>
        c
          .option("--mac <mac>")
          .option("--profile <profile>")
          .option("--uuid <uuid>")
          .option("--serial <serial>")
          .option("--arch <arch>")
          .option("--ipxe-build <build>", "iPXE build for its UEFI firmware: ipxe | snponly (default: the relay's)")
          .option("--ipv4 <address>")
          .option("--label <key=value>", "repeatable", collect),
      path: (s) => `${site(s)}/hosts`,
      body: ([hostname], o) => defined({ hostname, mac: o.mac, profile: o.profile, uuid: o.uuid, serial: o.serial, arch: o.arch, ipxeBuild: o.ipxeBuild, ipv4: o.ipv4, labels: keyValues(o.label, "--label") }),
    },
  },
  {
    name: "profiles",
    what: "profile",
    key: "name",
    columns: [["NAME", (r) => r.name], ["IMAGE", (r) => r.image], ["CMDLINE", (r) => (r.cmdline?.length > 50 ? `${r.cmdline.slice(0, 49)}…` : r.cmdline)], ["MENU", (r) => (r.menu ? `${r.menu.items.length} items` : null)], ["REV", (r) => r.revision]],
    list: () => "/v1/profiles",
    one: (_s, k) => `/v1/profiles/${enc(k)}`,
    create: {
      args: "<name>",
      options: (c) =>
        c
          .option("--image <image>")
          .option("--cmdline <cmdline>")
          .option("--description <text>")
          .option("--user-data <text|@file>", "cloud-init user-data template")
          .option("--vendor-data <text|@file>")
          .option("--network-config <text|@file>"),
      path: () => "/v1/profiles",
      body: ([name], o) =>
        defined({ name, image: o.image, cmdline: o.cmdline, description: o.description, userData: textArg(o.userData, "--user-data"), vendorData: textArg(o.vendorData, "--vendor-data"), networkConfig: textArg(o.networkConfig, "--network-config") }),
    },
  },
  {
    name: "images",
    what: "image",
    key: "name",
    columns: [["NAME", (r) => r.name], ["ARCH", (r) => r.arch], ["VERSION", (r) => r.version], ["KERNEL", (r) => short(r.artifacts?.kernel)], ["INITRD", (r) => (r.artifacts?.initrd ?? []).map(short)], ["REV", (r) => r.revision]],
    list: () => "/v1/images",
    one: (_s, k, o) => `/v1/images/${enc(k)}${archQ(o)}`,
    create: {
      args: "<name>",
      options: (c) =>
        c
          .requiredOption("--arch <arch>", "x86_64, arm64, …")
          .option("--version <version>")
          .requiredOption("--kernel <sha256>", "an uploaded artifact (edgeboot upload prints the hash)")
          .option("--initrd <sha256>", "repeatable, in boot order", collect),
      path: () => "/v1/images",
      body: ([name], o) => defined({ name, arch: o.arch, version: o.version, artifacts: { kernel: o.kernel, initrd: o.initrd ?? [] } }),
    },
  },
  {
    name: "tokens",
    what: "token",
    key: "id",
    columns: [["ID", (r) => r.id], ["NAME", (r) => r.name], ["SCOPES", (r) => r.scopes], ["EXPIRES", (r) => ago(r.expiresAt)], ["REVOKED", (r) => ago(r.revokedAt)], ["LAST USED", (r) => ago(r.lastUsedAt)]],
    list: () => "/v1/tokens",
    one: (_s, k) => `/v1/tokens/${enc(k)}`,
    create: {
      args: "<name>",
      options: (c) => c.requiredOption("--scope <scope>", "admin, read or site:<slug>; repeatable", collect).option("--expires <date-time>", "ISO 8601; absent = never"),
      path: () => "/v1/tokens",
      body: ([name], o) => defined({ name, scopes: o.scope, expiresAt: o.expires }),
    },
  },
  {
    name: "relays",
    what: "relay",
    key: "name",
    columns: [["NAME", (r) => r.name], ["LAN ADDRESS", (r) => r.lanAddress], ["CACHE", (r) => r.cacheUrl], ["VERSION", (r) => r.softwareVersion], ["LAST SEEN", (r) => ago(r.lastSeenAt)], ["REVOKED", (r) => ago(r.revokedAt)]],
    list: (s) => `${site(s)}/relays`,
    one: (s, k) => `${site(s)}/relays/${enc(k)}`,
    create: { args: "<name>", options: (c) => c, path: (s) => `${site(s)}/relays`, body: ([name]) => ({ name }) },
  },
  {
    name: "rules",
    what: "assignment rule",
    key: "name",
    columns: [
      ["NAME", (r) => r.name],
      ["PROFILE", (r) => r.profile],
      ["SELECTOR", (r) => Object.entries(r.selector ?? {}).map(([k, v]) => (k === "labels" ? Object.entries(v as Row).map(([lk, lv]) => `${lk}=${lv}`).join(",") : `${k}=${v}`)).join(" ")],
      ["SPECIFICITY", (r) => r.specificity],
      ["REV", (r) => r.revision],
    ],
    list: (s) => `${site(s)}/rules`,
    one: (s, k) => `${site(s)}/rules/${enc(k)}`,
    create: {
      args: "<name>",
      options: (c) =>
        c
          .requiredOption("--profile <name>", "the profile a matching machine boots")
          .option("--label <key=value>", "required label (repeatable)", collect)
          .option("--arch <arch>", "required architecture (iPXE's ${buildarch})")
          .option("--mac-prefix <octets>", "required MAC prefix, e.g. 52:54:00")
          .option("--uuid <pattern>", "UUID or pattern ('*' matches any run)")
          .option("--serial <pattern>", "serial or pattern ('*' matches any run)")
          .option("--description <text>"),
      path: (s) => `${site(s)}/rules`,
      body: ([name], o) => {
        const data = dataOf(o.data);
        const selector = defined({ ...(data.selector ?? {}), labels: keyValues(o.label, "--label"), arch: o.arch, macPrefix: o.macPrefix, uuid: o.uuid, serial: o.serial });
        return defined({ ...data, name, profile: o.profile, description: o.description, selector });
      },
    },
  },
  {
    name: "secrets",
    what: "secret",
    key: "name",
    columns: [["NAME", (r) => r.name], ["SITE", (r) => r.site], ["HOST", (r) => r.host], ["UPDATED", (r) => ago(r.updatedAt)]],
    list: (s, o) => `/v1/secrets${secretScopeQ(s, o)}`,
    one: (s, k, o) => `/v1/secrets/${enc(k)}${secretScopeQ(s, o)}`,
  },
];

function shownOnce(body: Row): string | undefined {
  return typeof body.secret === "string" ? body.secret : undefined;
}

export function resourceCommands(program: Command, env: Env): void {
  for (const spec of SPECS) {
    const updatable = ["sites", "hosts", "profiles", "images", "rules"].includes(spec.name);
    const group = program.command(spec.name).description(`list, show, create${updatable ? ", update" : ""} and delete ${spec.name}`);
    const scoped = (c: Command) => (spec.name === "secrets" ? c.option("--host <host>", "a host's secrets (with --site)").option("--global", "global secrets, even if the context names a site") : c);
    const arch = (c: Command) => (spec.name === "images" ? c.option("--arch <arch>", "which architecture's row") : c);

    scoped(group.command("list").alias("ls").description(`list ${spec.name}`))
      .option("--state <state>", spec.name === "hosts" ? "only hosts in this state" : "(hosts only)")
      .action(async (o: Row, cmd: Command) => {
        const s = await session(cmd, env);
        printList(await s.api.list(spec.list(s, o)), spec.columns, s.format);
      });

    arch(scoped(group.command("get").argument(`<${spec.key}>`).description(`show one ${spec.what}`))).action(async (key: string, o: Row, cmd: Command) => {
      const s = await session(cmd, env);
      if (spec.name === "secrets") {
        // No route returns a value: "get" shows where the secret is set.
        const found = (await s.api.list(spec.list(s, o))).filter((r) => r.name === key);
        if (found.length === 0) throw usage(`no secret named "${key}" in that scope`);
        return printOne(found.length === 1 ? found[0] : found, s.format);
      }
      const r = await s.api.get(spec.one(s, key, o));
      printOne(r.body, s.format);
    });

    if (spec.create) {
      const create = spec.create;
      create
        .options(group.command("create").argument(create.args).description(`create a ${spec.what}`))
        .option("--data <json|@file>", "more fields, as the API takes them (JSON or YAML)")
        .action(async (...args: unknown[]) => {
          const cmd = args.at(-1) as Command;
          const o = args.at(-2) as Row;
          const positional = args.slice(0, -2) as string[];
          const s = await session(cmd, env);
          const body = { ...dataOf(o.data), ...create.body(positional, o) };
          const r = await s.api.request<Row>("POST", create.path(s, o), { body });
          const secret = shownOnce(r.body);
          if (secret !== undefined && s.format === "table") {
            process.stderr.write(`created ${spec.what} ${positional[0] ?? ""}; its secret is shown once, store it now:\n`);
            process.stdout.write(`${secret}\n`);
          } else printOne(r.body, s.format === "table" ? "yaml" : s.format);
          if (spec.name === "sites" && (r.body.bootAuth ?? "relay") === "relay") {
            process.stderr.write(`note: bootAuth is "relay": /boot/${positional[0]}/ipxe answers 401 until a relay of this site fetches it (edgeboot relays create), or set bootAuth key/open\n`);
          }
        });
    }

    if (spec.name === "secrets") {
      group
        .command("set")
        .alias("create")
        .argument("<name>")
        .description("set a secret (write-only: the API never returns it); the value comes from --from-env, --from-file or stdin, never a flag")
        .option("--from-env <VAR>", "read the value from this environment variable")
        .option("--from-file <path>", "read the value from this file (one trailing newline is dropped)")
        .option("--host <host>", "a host's secret (with --site)")
        .option("--global", "a global secret, even if the context names a site")
        .action(async (name: string, o: Row, cmd: Command) => {
          const s = await session(cmd, env);
          const value = await readSecretValue(o, env);
          const r = await s.api.request<Row>("PUT", spec.one(s, name, o), { body: { value } });
          process.stderr.write(`${r.status === 201 ? "created" : "replaced"} secret ${name}${r.body.site ? ` (site ${r.body.site}${r.body.host ? `, host ${r.body.host}` : ""})` : " (global)"}\n`);
        });
    }

    // Changes without a site file: fields as the API takes them, sent with If-Match of a fresh read (rules are
    // replaced whole, so the given fields are laid over the current rule).
    if (updatable) {
      arch(group.command("update").argument(`<${spec.key}>`).description(`change fields of a ${spec.what} (--data); other fields are kept`))
        .requiredOption("--data <json|@file>", 'the fields to change, as the API takes them, e.g. \'{"image":"debian-12"}\' (JSON or YAML)')
        .action(async (key: string, o: Row, cmd: Command) => {
          const s = await session(cmd, env);
          const data = dataOf(o.data);
          const path = spec.one(s, key, o);
          const current = await s.api.get<Row>(path);
          const rule = spec.name === "rules";
          const body = rule ? { profile: current.body.profile, selector: current.body.selector, description: current.body.description, ...data } : data;
          const r = await s.api.request<Row>(rule ? "PUT" : "PATCH", path, { body, ifMatch: current.etag });
          printOne(r.body, s.format === "table" ? "yaml" : s.format);
        });
    }

    if (spec.name === "sites") {
      group
        .command("boot-key")
        .argument("<slug>")
        .description("make a new boot key for a site with bootAuth key (chains fetched with &k=KEY); shown once, the old key stops working")
        .action(async (slug: string, _o: Row, cmd: Command) => {
          const s = await session(cmd, env);
          const r = await s.api.request<Row>("POST", `/v1/sites/${enc(slug)}/boot-key`);
          if (s.format !== "table") return printOne(r.body, s.format);
          process.stderr.write(`new boot key for site ${slug}; shown once, store it now (iPXE fetches /boot/${slug}/ipxe?…&k=KEY):\n`);
          process.stdout.write(`${shownOnce(r.body)}\n`);
        });
    }

    const del = group.command("delete").alias("rm").argument(`<${spec.key}>`).description(spec.name === "tokens" || spec.name === "relays" ? `revoke a ${spec.what}` : `delete a ${spec.what}`);
    arch(scoped(spec.deleteOptions ? spec.deleteOptions(del) : del)).action(async (key: string, o: Row, cmd: Command) => {
      const s = await session(cmd, env);
      const path = spec.one(s, key, o);
      await s.api.request("DELETE", spec.deleteQuery ? `${path}${path.includes("?") ? "&" : "?"}${spec.deleteQuery(o).slice(1)}`.replace(/[?&]$/, "") : path).catch((err: unknown) => {
        // The API speaks of its query parameter; the CLI's spelling is the flag.
        if (err instanceof CliError && err.status === 409 && spec.name === "sites") throw new CliError(err.code, err.message.replace("pass ?force=true", `pass --force (edgeboot sites delete ${key} --force)`), err.details, err.status);
        throw err;
      });
      process.stderr.write(`${spec.name === "tokens" || spec.name === "relays" ? "revoked" : "deleted"} ${spec.what} ${key}\n`);
    });
  }
}
