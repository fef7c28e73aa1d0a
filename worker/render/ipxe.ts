// iPXE chain scripts, pure: plan in, script text out. iPXE has no quoting (src/core/exec.c split_command: tokens are
// whitespace-separated; a token "||", "&&" or ";" ends a command, one starting with "#" starts a comment, and
// "${...}" is expanded everywhere), so operator text is neutralised with ipxeText() and the kernel command line is
// checked with checkCmdline() before it is written into a script.

import { byteLength, edgebootArgs, MAX_KERNEL_ARGS, placeArgs } from "./kernelArgs.ts";

export const MAX_ATTEMPTS = 3;

export type BootEntry = {
  kernelUrl: string;
  initrdUrls: string[];
  // Operator command line, already rendered and checked; the initrd= names and edgeboot's arguments are added here.
  cmdline: string;
  seedUrl: string;
  // false: the profile does not use NoCloud, and the line carries neither ds= nor network-config= (kernelArgs.ts).
  nocloud?: boolean;
  // `network-config=` value for hosts with static addressing (kernelArgs.ts), else null.
  networkConfig: string | null;
  // GET on this URL records the phase (imgfetch cannot POST on stock iPXE).
  eventsUrl: string;
  name: string;
};

export type MenuEntry = { key: string | null; label: string; boot: BootEntry | "local" };

export class CmdlineError extends Error {
  override name = "CmdlineError";
}

const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

// Operator text in echo/menu/comment lines: control characters become spaces, and every token iPXE would treat as
// syntax gets a visible backslash in front (iPXE has no escape character, a backslash is just a character).
export function ipxeText(text: string): string {
  return text
    .replace(/[\x00-\x1f\x7f]+/g, " ")
    .split(" ")
    .map((tok, i) => {
      let t = tok.replace(/\$\{/g, "$\\{");
      if (t === "||" || t === "&&" || t === ";" || t.startsWith("#") || (i === 0 && t.startsWith("-"))) t = `\\${t}`;
      return t;
    })
    .join(" ")
    .trim();
}

// Guard for values substituted into the cmdline template: they must not smuggle script syntax or settings expansion.
export function cmdlineValueGuard(value: string, name: string): string {
  if (/[\r\n]/.test(value) || CONTROL.test(value)) throw new CmdlineError(`variable "${name}" contains control characters`);
  if (value.includes("${")) throw new CmdlineError(`variable "${name}" contains "\${", which iPXE would expand`);
  return value;
}

// The whole rendered command line: whitespace (newlines included) collapses to single spaces, as iPXE would join
// the tokens anyway; syntax tokens are refused because they would cut the kernel line short. With `nocloud` (edgeboot
// adds its own seed, kernelArgs.ts) a `ds=` or `network-config=` of the operator's, or one a value brought in, is
// refused too: cloud-init reads the last `ds=nocloud…` and `network-config=`, tiny-cloud the first `ds=nocloud;`, so
// the two would read different seeds.
export function checkCmdline(cmdline: string, opts: { nocloud?: boolean } = {}): string {
  if (CONTROL.test(cmdline)) throw new CmdlineError("command line contains control characters");
  // Linux splits kernel arguments at byte 0xA0 too (lib/ctype.c: Latin-1 no-break space is a space), which is in the
  // UTF-8 of "à", "†" and many more: "àinit=/bin/sh" would be an argument of its own. The line is ASCII only.
  const wide = /[^\x00-\x7e]/u.exec(cmdline);
  if (wide) throw new CmdlineError(`command line holds "${wide[0]}" (U+${wide[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}): kernel arguments are ASCII only`);
  const tokens = cmdline.split(/\s+/).filter(Boolean);
  for (const t of tokens) {
    if (t === "||" || t === "&&" || t === ";" || t.startsWith("#")) {
      throw new CmdlineError(`command line token "${t}" is iPXE syntax and would end the kernel line`);
    }
    if (opts.nocloud && (t.startsWith("ds=") || t.startsWith("network-config="))) {
      throw new CmdlineError(`command line token "${t.split(/[=;]/)[0]}=…" conflicts with the NoCloud arguments edgeboot adds (cloud-init reads the last, tiny-cloud the first): remove it, or set the profile's nocloud to false`);
    }
  }
  return tokens.join(" ");
}

// The kernel's arguments as the chain writes them; refused when Linux would cut them off. The message names each
// part's share, so an operator sees what to shorten.
export function kernelLine(entry: Pick<BootEntry, "initrdUrls" | "cmdline" | "seedUrl" | "networkConfig" | "nocloud">): string {
  const names = entry.initrdUrls.map((_, i) => `initrd=initrd${i}`);
  const ours = edgebootArgs(entry);
  const line = placeArgs([...names, entry.cmdline].filter(Boolean).join(" "), ours);
  const size = byteLength(line);
  if (size > MAX_KERNEL_ARGS) {
    const parts = [`cmdline ${byteLength(entry.cmdline)}`];
    if (ours[0]) parts.push(`seed ${byteLength(ours[0])}`);
    if (ours[1]) parts.push(`network-config ${byteLength(ours[1])}`);
    if (names.length) parts.push(`initrd names ${byteLength(names.join(" "))}`);
    throw new CmdlineError(`kernel command line is ${size} bytes (${parts.join(", ")}); Linux keeps only ${MAX_KERNEL_ARGS} after iPXE's image name`);
  }
  return line;
}

const LOCAL_DISK = [
  "imgfree",
  // BIOS: boot the first disk; UEFI: hand back to the firmware's next boot option.
  "iseq ${platform} pcbios && sanboot --no-describe --drive 0x80 ||",
  "exit 1",
];

// One bootable section: a bounded retry loop, imgfree before every attempt, then a failure event and local disk.
function bootSection(p: string, entry: BootEntry): string[] {
  return [
    "set attempt:int32 0",
    `:${p}retry`,
    `iseq \${attempt} ${MAX_ATTEMPTS} && goto ${p}failed ||`,
    "inc attempt",
    "imgfree",
    `kernel --name kernel ${entry.kernelUrl} ${kernelLine(entry)} || goto ${p}retry`,
    ...entry.initrdUrls.map((url, i) => `initrd --name initrd${i} ${url} || goto ${p}retry`),
    `boot || goto ${p}retry`,
    `:${p}failed`,
    `echo edgeboot: ${ipxeText(entry.name)} did not boot after ${MAX_ATTEMPTS} attempts, falling back to the local disk`,
    `imgfetch ${entry.eventsUrl}?phase=boot-failed ||`,
    "goto local",
  ];
}

const script = (comment: string, lines: string[]) => ["#!ipxe", `# ${ipxeText(comment)}`, ...lines, ""].join("\n");

export function renderBootScript(comment: string, entry: BootEntry): string {
  return script(comment, [...bootSection("", entry), ":local", ...LOCAL_DISK]);
}

export function renderMenuScript(
  comment: string,
  menu: { title: string; timeoutMs: number; defaultIndex: number },
  items: MenuEntry[],
): string {
  const names = items.map((it, i) => (it.boot === "local" ? "local" : `m${i}`));
  const lines = [`menu ${ipxeText(menu.title)}`];
  items.forEach((it, i) => {
    const key = it.key && /^[A-Za-z0-9]$/.test(it.key) ? `--key ${it.key} ` : "";
    lines.push(`item ${key}${names[i]} ${ipxeText(it.label)}`);
  });
  const timeout = menu.timeoutMs > 0 ? `--timeout ${Math.floor(menu.timeoutMs)} ` : "";
  // Ctrl-C (or an empty choice) makes choose fail: leave for the local disk rather than stop in a shell.
  lines.push(`choose ${timeout}--default ${names[menu.defaultIndex] ?? names[0]} selected || goto local`, "goto ${selected}");
  items.forEach((it, i) => {
    if (it.boot !== "local") lines.push(`:${names[i]}`, ...bootSection(`${names[i]}_`, it.boot));
  });
  lines.push(":local", ...LOCAL_DISK);
  return script(comment, lines);
}

export function renderLocalScript(comment: string, message: string): string {
  return script(comment, [`echo edgeboot: ${ipxeText(message)}`, ...LOCAL_DISK]);
}

// The unknown-machine loop: say so, wait, and ask again. The URL is query-only relative ("?mac=..."), which iPXE
// resolves against the script's own URI (core/uri.c resolve_uri), so it works both through the relay's
// /boot.ipxe and directly against the API; bookworm's iPXE has no ${cwuri} to do this at run time.
export function renderDiscoverScript(comment: string, message: string, retrySeconds: number, rechainUrl: string): string {
  return script(comment, [
    ":wait",
    `echo edgeboot: ${ipxeText(message)}`,
    `sleep ${Math.max(1, Math.floor(retrySeconds))}`,
    `chain --replace --autofree ${rechainUrl} || goto wait`,
  ]);
}

// Body of a refused chain request (sent with the 4xx/5xx status): readable on the iPXE console, then back to firmware.
export function renderErrorScript(code: string, message: string): string {
  return ["#!ipxe", `echo edgeboot: ${ipxeText(code)}: ${ipxeText(message)}`, "exit 1", ""].join("\n");
}
