// The node kind cloud-init's JSON schema (schema-cloud-config-v1.json, the same in 22.4.2 and 25.1.4) requires for
// common cloud-config keys, checked at save: a `runcmd:` mapping or a `write_files:` string passes a key-name check,
// then cloud-init drops the module at boot with only a schema warning. A value that is a whole {{ reference }} is
// left alone (its node is decided at render, e.g. by `| json`).
import { isMap, isScalar, isSeq, type Node, type Pair } from "yaml";

type Kind = "list" | "mapping" | "scalar" | "null";

const SHAPES: Record<string, readonly Kind[]> = {
  runcmd: ["list"],
  bootcmd: ["list"],
  packages: ["list"],
  write_files: ["list"],
  ssh_authorized_keys: ["list"],
  mounts: ["list"],
  ssh_genkeytypes: ["list"],
  users: ["list", "mapping", "scalar"],
  groups: ["list", "mapping", "scalar"],
  user: ["mapping", "scalar"],
  phone_home: ["mapping"],
  apt: ["mapping"],
  chpasswd: ["mapping"],
  power_state: ["mapping"],
  ca_certs: ["mapping"],
  "ca-certs": ["mapping"],
  ssh_keys: ["mapping"],
  swap: ["mapping"],
  growpart: ["mapping"],
  snap: ["mapping"],
  keyboard: ["mapping"],
  random_seed: ["mapping"],
  resolv_conf: ["mapping"],
  rsyslog: ["mapping"],
  yum_repos: ["mapping"],
  zypper: ["mapping"],
  ntp: ["mapping", "null"],
  wireguard: ["mapping", "null"],
  hostname: ["scalar"],
  fqdn: ["scalar"],
  final_message: ["scalar"],
  timezone: ["scalar"],
  locale: ["scalar"],
  password: ["scalar"],
  ssh_pwauth: ["scalar"],
  package_update: ["scalar"],
  package_upgrade: ["scalar"],
  package_reboot_if_required: ["scalar"],
  disable_root: ["scalar"],
  preserve_hostname: ["scalar"],
  prefer_fqdn_over_hostname: ["scalar"],
  manage_resolv_conf: ["scalar"],
  ssh_deletekeys: ["scalar"],
};

const kindOf = (node: unknown): Kind | null =>
  node === null || (isScalar(node) && node.value === null) ? "null" : isSeq(node) ? "list" : isMap(node) ? "mapping" : isScalar(node) ? "scalar" : null;

const NAMES: Record<Kind, string> = { list: "a list", mapping: "a mapping", scalar: "a single value", null: "empty" };

// Problems with the top-level pair's value, named by key; `isRef` tells a whole-reference scalar.
export function shapeProblems(pair: Pair, key: string, isRef: (node: Node) => boolean): string[] {
  const allowed = SHAPES[key];
  const value = pair.value as Node | null;
  if (!allowed || (value && isScalar(value) && isRef(value))) return [];
  const kind = kindOf(value);
  if (kind && !allowed.includes(kind)) return [`"${key}" must be ${allowed.map((k) => NAMES[k]).join(" or ")} (cloud-init's schema), not ${NAMES[kind]}`];
  if (key === "write_files" && isSeq(value)) {
    return value.items.flatMap((item, i) =>
      isScalar(item) && isRef(item as Node) ? [] : isMap(item) && item.has("path") ? [] : [`"write_files[${i}]" must be a mapping with a path`],
    );
  }
  return [];
}
