"""Runs Debian's own cloud-init NoCloud datasource code (extracted, not installed) against edgeboot.

Usage: python3 driver.py <kernel line> <work dir>   (PYTHONPATH = the extracted dist-packages)
Prints one JSON object: what the local and network stages of cloud-init make of that exact kernel line and the seed
it names. The kernel line replaces /proc/cmdline (util.get_cmdline) and DMI is empty; nothing on this machine is read
or changed outside <work dir>.
"""
import json
import os
import sys

line, work = sys.argv[1], sys.argv[2]

from cloudinit import dmi, helpers, util, version  # noqa: E402

util.get_cmdline = lambda: line
dmi.read_dmi_data = lambda key: None

from cloudinit import distros, sources, stages  # noqa: E402
from cloudinit.net import cmdline as net_cmdline  # noqa: E402
from cloudinit.sources import DataSourceNoCloud as nocloud  # noqa: E402

out = {"version": version.version_string()}


def paths_for(stage):
    root = os.path.join(work, stage)
    os.makedirs(root, exist_ok=True)
    return helpers.Paths({"cloud_dir": os.path.join(root, "cloud"), "run_dir": os.path.join(root, "run"), "templates_dir": root})


def distro_for(paths):
    return distros.fetch("debian")("debian", {}, paths)


def run(cls, stage):
    paths = paths_for(stage)
    ds = cls(sys_cfg={"datasource_list": ["NoCloud"]}, distro=distro_for(paths), paths=paths)
    result = {"claimed": False}
    try:
        result["claimed"] = bool(ds.get_data())
    except Exception as err:  # a datasource error is a finding, not a driver crash
        result["error"] = "%s: %s" % (type(err).__name__, err)
        return ds, result
    result["dsmode"] = ds.dsmode
    if result["claimed"]:
        result["metadata"] = {k: ds.metadata.get(k) for k in ("instance-id", "local-hostname", "hostname")}
        result["userdata"] = ds.userdata_raw.decode() if isinstance(ds.userdata_raw, bytes) else ds.userdata_raw
        result["vendordata"] = ds.vendordata_raw.decode() if isinstance(ds.vendordata_raw, bytes) else ds.vendordata_raw
        result["public_keys"] = ds.get_public_ssh_keys()
        result["hostname"] = ds.get_hostname().hostname if hasattr(ds.get_hostname(), "hostname") else ds.get_hostname()
        try:
            result["ds_network_config"] = ds.network_config
        except Exception as err:
            result["ds_network_config_error"] = "%s: %s" % (type(err).__name__, err)
    return ds, result


def network_choice(ds):
    """What cloud-init's Init would apply (stages.Init._find_networking_config), given this datasource."""
    init = stages.Init(ds_deps=[])
    init._cfg = {"system_info": {"distro": "debian"}}
    init._paths = paths_for("init")
    init.datasource = ds
    cfg, src = init._find_networking_config()
    return {"source": str(src), "config": cfg}


out["cmdline_network_config"] = net_cmdline.read_kernel_cmdline_config(line)
local_ds, out["local"] = run(nocloud.DataSourceNoCloud, "local")
net_ds, out["net"] = run(nocloud.DataSourceNoCloudNet, "net")
# cloud-init's network stage gives up when the datasource it found is in local mode (cmd/main.py main_init).
out["net"]["would_exit_local_mode"] = out["net"].get("dsmode") != sources.DSMODE_NETWORK
out["local_network"] = network_choice(None)
if out["net"]["claimed"]:
    out["net_network"] = network_choice(net_ds)
print(json.dumps(out, default=str))
