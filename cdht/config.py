"""Service configuration: one nameko YAML file per service, with ``${VAR:default}`` substitution.

The same file serves ``nameko run`` and the CLI (migrations, dead letters), so an environment
variable is named in exactly one place.
"""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("registry", "assessment", "reporting", "notifications")
# The web front for staff and citizens: a service of its own (config, database, process), but
# no events and no API of its own, so it is not among the SERVICES the event plumbing, the
# broker users and the API documents are made for.
PORTAL = "portal"
PROCESSES = SERVICES + (PORTAL,)


def service_dir(service):
    if service not in PROCESSES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(PROCESSES)}")
    return ROOT / "services" / service


class _ConfigLoader(yaml.SafeLoader):
    """nameko's ``${VAR:default}`` rules on a loader of our own: nameko's setup_yaml_parser()
    installs them on yaml.SafeLoader itself, so every later yaml.safe_load in the process
    (a compose file, a criteria set) would silently substitute environment variables."""


def _install_env_var_rules():
    from functools import partial

    from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor
    _ConfigLoader.add_constructor("!env_var", env_var_constructor)
    _ConfigLoader.add_constructor("!raw_env_var", partial(env_var_constructor, raw=True))
    _ConfigLoader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)


def load_config(service):
    """The service's config as ``nameko run --config`` would see it (env vars substituted)."""
    if "!env_var" not in _ConfigLoader.yaml_constructors:
        _install_env_var_rules()
    with open(service_dir(service) / "config.yaml") as fh:
        return yaml.load(fh, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
