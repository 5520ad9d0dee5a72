# Galleon shim for the az CLI (Debian azure-cli 2.45), written by `galleon az-setup`.
#
# Python imports `sitecustomize` at start-up from PYTHONPATH. This one does
# nothing unless AZ_LOCAL_AUTHORITY_HOSTS is set (a comma-separated list of
# host names, e.g. "127.0.0.1"), so az keeps working unchanged for Azure.
# When it is set, it patches three modules right after they are imported:
#
# 1. msal.authority: MSAL 1.21 asks login.microsoftonline.com to "discover"
#    any authority host it does not know, before every sign-in, and has no
#    setting to skip that. The listed hosts are made known (to Microsoft, and
#    to the developer, which also skips the alias lookup done by `az logout`),
#    and exempt from the user-realm lookup of password sign-in, which MSAL
#    sends to port 443 whatever the authority's port.
# 2. azure.mgmt.authorization: Debian ships azure-mgmt-authorization 3.0.0,
#    whose operation groups keep their configuration in `_config`, while az
#    2.45's role module reads `.config.subscription_id`, so every
#    `az role assignment`/`az role definition` command fails with
#    "'RoleAssignmentsOperations' object has no attribute 'config'".
#    The classes get a `config` alias of `_config`.
# 3. azure.cli.core.profiles._shared: az's `latest` profile asks for compute
#    2022-11-01 and network 2022-01-01, which Debian's SDK packages do not
#    contain, so `az vm`/`az network` fail before sending anything. They are
#    mapped to the newest versions Debian has: 2022-08-01 and 2022-07-01.
#
# Finally the sitecustomize this file shadows (Debian's, in /etc/python3.x)
# is run, so nothing else changes.

import os
import sys


def _msal_authority(mod):
    hosts = _hosts()
    mod.WELL_KNOWN_AUTHORITY_HOSTS.update(hosts)
    # Password sign-in first asks https://HOST/common/userrealm/USER (port
    # dropped, so it goes to 443) whether the user is federated. Galleon's
    # users never are; this set makes MSAL skip the question.
    mod.Authority._domains_without_user_realm_discovery.update(hosts)
    init = mod.Authority.__init__

    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)  # skips discovery: the host is well known
        if self.instance in hosts:
            self._is_known_to_developer = True

    mod.Authority.__init__ = __init__


def _config_alias(cls):
    # A read/write alias, in case a class (or a later SDK) assigns `config`.
    if isinstance(cls, type) and "config" not in dir(cls):
        cls.config = property(lambda self: self._config,
                              lambda self, value: setattr(self, "_config", value))


def _authorization_operations(mod):
    for name in dir(mod):
        if name.endswith("Operations"):
            _config_alias(getattr(mod, name))


def _authorization_client(mod):
    _config_alias(getattr(mod, "AuthorizationManagementClient", None))


_API_VERSIONS = {
    "MGMT_COMPUTE": {"2022-11-01": "2022-08-01"},
    "MGMT_NETWORK": {"2022-01-01": "2022-07-01"},
}


def _profiles(mod):
    latest = mod.AZURE_API_PROFILES["latest"]
    for rtype, remap in _API_VERSIONS.items():
        key = getattr(mod.ResourceType, rtype)
        value = latest.get(key)
        if isinstance(value, mod.SDKProfile):  # a default plus per-operation-group versions
            for group, version in value.profile.items():
                value.profile[group] = remap.get(version, version)
        elif value is not None:
            latest[key] = remap.get(value, value)


def _patch_for(name):
    if name == "msal.authority":
        return _msal_authority
    if name == "azure.mgmt.authorization":
        return _authorization_client
    if name.startswith("azure.mgmt.authorization.v") and name.endswith(".operations"):
        return _authorization_operations
    if name == "azure.cli.core.profiles._shared":
        return _profiles
    return None


def _hosts():
    value = os.environ.get("AZ_LOCAL_AUTHORITY_HOSTS", "")
    return {h.strip().lower() for h in value.split(",") if h.strip()}


class _PatchAfterImport:
    """A meta-path finder that lets the normal finders load a module, then
    patches it before anyone else sees it."""

    galleon_az_shim = True  # marks this finder, even from another copy of the file

    def find_spec(self, name, path, target=None):
        patch = _patch_for(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if getattr(finder, "galleon_az_shim", False) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        loader.exec_module = exec_and_patch  # loaders are per module file
        return spec


def _chain():
    """Run the sitecustomize this one hides: the next one on sys.path after
    this file's directory (possibly another copy of this shim, when two
    env.sh files were sourced; it chains on in turn)."""
    import importlib.machinery
    import importlib.util
    me = os.path.realpath(__file__)
    here = os.path.dirname(me)
    dirs = [os.path.realpath(p or os.curdir) for p in sys.path]
    last = max((i for i, d in enumerate(dirs) if d == here), default=None)
    rest = sys.path[last + 1:] if last is not None else [p for p, d in zip(sys.path, dirs) if d != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or os.path.realpath(spec.origin or "") == me:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if _hosts() and not any(getattr(f, "galleon_az_shim", False) for f in sys.meta_path):
    sys.meta_path.insert(0, _PatchAfterImport())
_chain()
