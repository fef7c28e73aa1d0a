// Names a site file points at (a profile's image, a host's profile, menu targets, the site's default profile, rules'
// profiles, boot intents) must exist in the file or in the API. Checked before any write, so a typo is reported with
// its line and field instead of failing half-way through an apply.
import type { Problem } from "./load.ts";
import type { SiteFile } from "./schema.ts";

type Named = { name: string };
type At = (path: (string | number)[]) => { line: number; col: number };

export function referenceProblems(file: SiteFile, api: { images: Named[]; profiles: Named[] }, at: At): Problem[] {
  const images = new Set([...file.images, ...api.images].map((i) => i.name));
  const profiles = new Set([...file.profiles, ...api.profiles].map((p) => p.name));
  const problems: Problem[] = [];
  const check = (name: string | null | undefined, kind: "image" | "profile", path: (string | number)[], allowLocal = false) => {
    if (name === null || name === undefined || (allowLocal && name === "local")) return;
    if ((kind === "image" ? images : profiles).has(name)) return;
    const field = path.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${k}` : k), "");
    problems.push({ ...at(path), field, message: `no ${kind} named "${name}" in this file's ${kind}s or in the API` });
  };
  file.profiles.forEach((p, i) => {
    check(p.image, "image", ["profiles", i, "image"]);
    p.menu?.items.forEach((item, j) => check(item.target, "profile", ["profiles", i, "menu", "items", j, "target"], true));
  });
  check(file.site.defaultProfile, "profile", ["site", "defaultProfile"]);
  file.hosts.forEach((h, i) => {
    check(h.profile, "profile", ["hosts", i, "profile"]);
    check(h.intent?.target, "profile", ["hosts", i, "intent", "target"], true);
  });
  file.rules.forEach((r, i) => check(r.profile, "profile", ["rules", i, "profile"]));
  return problems;
}
