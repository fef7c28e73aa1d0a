"""Runs cloud-init's own phone_home module (cc_phone_home.handle, extracted, not installed) against a URL.

Usage: python3 phone_home.py <url> <keys dir> <instance id> <hostname> <fqdn>   (PYTHONPATH = extracted dist-packages)
The module reads the SSH host public keys from /etc/ssh/ssh_host_*_key.pub; those reads are redirected to <keys dir>
(a missing file is what the module reports as N/A), so nothing on this machine is read. Prints one JSON line.
"""
import inspect
import json
import logging
import os
import sys
from types import SimpleNamespace

url, keys, iid, hostname, fqdn = sys.argv[1:6]

from cloudinit import util  # noqa: E402
from cloudinit.config import cc_phone_home  # noqa: E402


def redirected(real):
    def load(path, *args, **kwargs):
        if str(path).startswith("/etc/ssh/"):
            return real(os.path.join(keys, os.path.basename(path)), *args, **kwargs)
        return real(path, *args, **kwargs)

    return load


# 22.4 reads the keys with util.load_file, 25.x with util.load_text_file.
for name in ("load_file", "load_text_file"):
    if hasattr(util, name):
        setattr(util, name, redirected(getattr(util, name)))


# The module swallows a failed POST into util.logexc: keep those messages to report them.
logged = []
real_logexc = util.logexc


def logexc(log, msg, *args, **kwargs):
    logged.append(msg % args if args else msg)
    return real_logexc(log, msg, *args, **kwargs)


util.logexc = logexc


class Cloud:
    # No cloud paths: fetch_ssl_details looks only for CA files under /var/lib/cloud (absent here).
    paths = None

    def get_instance_id(self):
        return iid

    def get_hostname(self, fqdn_=False, **kwargs):
        return SimpleNamespace(hostname=fqdn if (fqdn_ or kwargs.get("fqdn")) else hostname, is_default=False)


cfg = {"phone_home": {"url": url, "post": "all", "tries": 2}}
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
log = logging.getLogger("phone_home")
# 22.4: handle(name, cfg, cloud, log, args); 23.x and later: handle(name, cfg, cloud, args).
params = inspect.signature(cc_phone_home.handle).parameters
args = ("phone_home", cfg, Cloud(), log, []) if "log" in params else ("phone_home", cfg, Cloud(), [])
error = None
try:
    cc_phone_home.handle(*args)
except Exception as err:  # the module raises after its retries when the POST fails
    error = "%s: %s" % (type(err).__name__, err)
print(json.dumps({"error": error, "logged": [m for m in logged if "ssh_host_dsa_key" not in m]}))
