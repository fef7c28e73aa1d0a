// The Ignition (spec 3.x) subset edgeboot validates at save and after render: `ignition` (version 3.x required),
// `storage.files`, `systemd.units`, `passwd.users`. Anything else is refused by name, so a typo never reaches a
// machine that would ignore it or fail its first boot. Field names from the Ignition 3 configuration specification
// (coreos.github.io/ignition/configuration-v3_4/).
import { z } from "zod";

const Ref = z.strictObject({ source: z.string().optional(), compression: z.string().optional(), verification: z.strictObject({ hash: z.string().optional() }).optional() });
const Owner = z.strictObject({ id: z.number().int().optional(), name: z.string().optional() });

const File = z.strictObject({
  path: z.string().regex(/^\//, "an absolute path"),
  overwrite: z.boolean().optional(),
  mode: z.number().int().min(0).max(0o7777).optional(),
  user: Owner.optional(),
  group: Owner.optional(),
  contents: Ref.optional(),
  append: z.array(Ref).optional(),
});

const Unit = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9:_.\\@-]+\.(service|socket|timer|target|mount|automount|path|slice|swap|device|scope)$/, "a systemd unit name with its type suffix"),
  enabled: z.boolean().optional(),
  mask: z.boolean().optional(),
  contents: z.string().optional(),
  dropins: z.array(z.strictObject({ name: z.string().regex(/\.conf$/, "a drop-in name ends in .conf"), contents: z.string().optional() })).optional(),
});

const User = z.strictObject({
  name: z.string().min(1),
  passwordHash: z.string().optional(),
  sshAuthorizedKeys: z.array(z.string()).optional(),
  uid: z.number().int().optional(),
  gecos: z.string().optional(),
  homeDir: z.string().optional(),
  noCreateHome: z.boolean().optional(),
  primaryGroup: z.string().optional(),
  groups: z.array(z.string()).optional(),
  noUserGroup: z.boolean().optional(),
  noLogInit: z.boolean().optional(),
  shell: z.string().optional(),
  system: z.boolean().optional(),
});

export const IgnitionConfig = z.strictObject({
  ignition: z.strictObject({
    version: z.string().regex(/^3\.\d+\.\d+(-experimental)?$/, "Ignition spec 3.x (e.g. 3.4.0)"),
    config: z.strictObject({ merge: z.array(Ref).optional(), replace: Ref.optional() }).optional(),
    timeouts: z.strictObject({ httpResponseHeaders: z.number().int().optional(), httpTotal: z.number().int().optional() }).optional(),
  }),
  storage: z.strictObject({ files: z.array(File).optional() }).optional(),
  systemd: z.strictObject({ units: z.array(Unit).optional() }).optional(),
  passwd: z.strictObject({ users: z.array(User).optional() }).optional(),
});

// Problems as "path: message", the path written as in the document (storage.files[0].path).
export function ignitionProblems(value: unknown): string[] {
  const parsed = IgnitionConfig.safeParse(value);
  if (parsed.success) return [];
  return parsed.error.issues.map((i) => {
    const path = i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
    return `${path || "(document)"}: ${i.message}`;
  });
}
