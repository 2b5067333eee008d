"""Service configuration: one nameko YAML file per service, with ``${VAR:default}`` substitution.

The same file serves ``nameko run`` and the CLI (migrations, dead letters), so an environment
variable is named in exactly one place.
"""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("registry", "assessment", "reporting", "notifications")


def service_dir(service):
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; expected one of {', '.join(SERVICES)}")
    return ROOT / "services" / service


def load_config(service):
    """The service's config as ``nameko run --config`` would see it (env vars substituted)."""
    from nameko.cli.main import setup_yaml_parser
    setup_yaml_parser()
    with open(service_dir(service) / "config.yaml") as fh:
        return yaml.safe_load(fh)
