"""Reads edgeboot's rendered NoCloud data the way Debian's own cloud-init does (extracted, not installed).

Usage: python3 oracle.py <cases.json> <work dir>   (PYTHONPATH = the extracted dist-packages)
cases.json: {"userdata": {name: text}, "metadata": {name: text}, "network": {name: {"arg": <network-config= value>}}}
Prints one JSON object with, per case, what cloud-init made of it:
- user-data: its YAML loader (what util.load_yaml uses) and its schema validator (strict);
- meta-data: the same loader, and its ENI parser on `network-interfaces` (cloud-init's last-resort network source);
- network: the kernel argument decoded (net/cmdline.py), then `devel net-convert` (its handle_args, argparse
  skipped) to eni, networkd and netplan.
"""
import copy
import json
import os
import sys
import types

cases_path, work = sys.argv[1], sys.argv[2]

import yaml  # noqa: E402

from cloudinit import distros, safeyaml, version  # noqa: E402
from cloudinit.cmd.devel import net_convert  # noqa: E402
from cloudinit.config import schema  # noqa: E402
from cloudinit.net import cmdline as net_cmdline  # noqa: E402
from cloudinit.net import eni  # noqa: E402

# What util.load_yaml (user-data, meta-data) calls in each version: 22.4 safeyaml.load, 25.1 yaml.safe_load.
load = getattr(safeyaml, "load", None) or yaml.safe_load
cases = json.load(open(cases_path, encoding="utf-8"))
out = {"version": version.version_string(), "userdata": {}, "metadata": {}, "network": {}}


def err(e):
    return "%s: %s" % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")


def files(root):
    found = {}
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            found[os.path.relpath(p, root)] = open(p, encoding="utf-8").read()
    return found


for name, text in cases["userdata"].items():
    r = {}
    try:
        r["loaded"] = load(text)
    except Exception as e:
        r["load_error"] = err(e)
    if isinstance(r.get("loaded"), dict):
        try:
            schema.validate_cloudconfig_schema(r["loaded"], schema=schema.get_schema(), strict=True)
            r["schema_valid"] = True
        except Exception as e:
            r["schema_valid"] = False
            r["schema_error"] = err(e)
    out["userdata"][name] = r

for name, text in cases["metadata"].items():
    r = {}
    try:
        r["loaded"] = load(text)
    except Exception as e:
        r["load_error"] = err(e)
    ifaces = r.get("loaded", {}).get("network-interfaces") if isinstance(r.get("loaded"), dict) else None
    if ifaces:
        try:
            r["eni"] = eni.convert_eni_data(ifaces)
        except Exception as e:
            r["eni_error"] = err(e)
    out["metadata"][name] = r

# net-convert edits the distro class's renderer_configs in place (it strips the netplan path's leading "/"): each run
# starts from a fresh copy, as each `cloud-init devel net-convert` process does.
debian = distros.fetch("debian")
renderer_configs = copy.deepcopy(debian.renderer_configs)

for name, case in cases["network"].items():
    r = {"cmdline": net_cmdline.read_kernel_cmdline_config("BOOT_IMAGE=kernel network-config=" + case["arg"])}
    src = os.path.join(work, "net-%s.json" % name)
    with open(src, "w") as f:
        json.dump({"network": r["cmdline"]}, f)
    for kind in ("eni", "networkd", "netplan"):
        target = os.path.join(work, "net-%s-%s" % (name, kind))
        args = types.SimpleNamespace(network_data=open(src), kind="yaml", directory=target, distro="debian", mac=None, debug=False, output_kind=kind)
        debian.renderer_configs = copy.deepcopy(renderer_configs)
        try:
            net_convert.handle_args("net-convert", args)
            r[kind] = files(target)
        except Exception as e:
            r[kind + "_error"] = err(e)
    out["network"][name] = r

print(json.dumps(out, default=str))
