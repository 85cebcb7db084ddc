"""deploy/security/*.yml are what the code writes (the roles the secured-node tests exercise)."""

from __future__ import annotations

from pathlib import Path

import yaml

from soc.opensearch import roles

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "security"
EXAMPLE = "so-tttt"


def test_roles_file_is_what_the_code_writes() -> None:
    doc = yaml.safe_load((DEPLOY / "roles.yml").read_text())
    assert doc == {"_meta": {"type": "roles", "config_version": 2},
                   "soc_service": roles.service_role(),
                   f"soc_collector_{EXAMPLE}": roles.collector_role(EXAMPLE)}


def test_mapping_file_is_what_the_code_writes() -> None:
    doc = yaml.safe_load((DEPLOY / "roles_mapping.yml").read_text())
    assert doc == {"_meta": {"type": "rolesmapping", "config_version": 2},
                   "all_access": {"users": [roles.ADMIN_USER]},
                   roles.service_role_name(): {"users": [roles.SERVICE_USER]},
                   roles.collector_role_name(EXAMPLE): {"users": [roles.collector_user(EXAMPLE)]}}
