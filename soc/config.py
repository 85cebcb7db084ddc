"""One Settings object: a YAML file plus SOC_* environment overrides.

Settings are read once, when asked for, never at import time. Tests build their own
Settings and pass them in.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from soc.errors import ConfigError

DEFAULT_PORT = 9200


def default_home() -> Path:
    """Where the local node keeps its data, logs and PID file (``var/`` in the working folder)."""
    return Path(os.environ.get("SOC_HOME", "var")).resolve()


def default_cache() -> Path:
    """Where downloaded distributions are cached: outside the repository, per user."""
    if os.environ.get("SOC_CACHE_DIR"):
        return Path(os.environ["SOC_CACHE_DIR"])
    if os.geteuid() == 0:
        # Root's home is private; the node runs as a service user that must read the distribution.
        return Path("/var/cache/soc-service")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "soc-service"


@dataclass(frozen=True)
class Retention:
    """Days each data class is kept before its indices are deleted."""

    syslog: int = 90
    web: int = 90
    alerts: int = 365
    audit: int = 730


@dataclass(frozen=True)
class Settings:
    # OpenSearch: when url is set, that cluster is used and no local node is started.
    opensearch_url: str | None = None
    opensearch_user: str | None = None
    opensearch_password: str | None = None
    opensearch_verify_certs: bool = True
    opensearch_ca_file: str | None = None
    # The local node.
    node_port: int = DEFAULT_PORT
    node_home: Path = field(default_factory=default_home)
    node_heap: str = "1g"
    node_start_timeout: float = 120.0
    opensearch_version: str = "2.19.6"
    cache_dir: Path = field(default_factory=default_cache)
    # Names: a prefix lets tests (and several deployments on one cluster) keep apart.
    index_prefix: str = ""
    # Data.
    rollover_max_size_gb: int = 50  # per primary shard
    # One backing index per agency stream and rollover period: with 82 agency streams and 90 days kept,
    # a daily rollover would hold about 7,400 shards (a node's default limit is 1,000); 14 days holds
    # about 650, and a 7-day search reads one or two indices per agency. Retention counts from each
    # index's rollover (soc.opensearch.retention.expired), so data is kept its full days.
    rollover_max_age_days: int = 14
    retention: Retention = field(default_factory=Retention)
    timezone: str = "Asia/Ho_Chi_Minh"
    # Console sign-in: after this many recent failures, an account / an address waits before the
    # next attempt, from login_delay_seconds doubling up to login_max_delay_seconds (never a lockout).
    login_free_failures_per_account: int = 5
    login_free_failures_per_address: int = 30
    login_delay_seconds: float = 1.0
    login_max_delay_seconds: float = 60.0
    # Reverse proxies (comma-separated addresses or CIDR networks) whose X-Forwarded-For and
    # X-Forwarded-Proto headers are believed; from anyone else they are ignored.
    trusted_proxies: str = ""
    # Mark console cookies Secure even when the request reached the service over plain HTTP
    # (TLS ended at a proxy that does not send X-Forwarded-Proto).
    secure_cookies: bool = False
    # Webhooks may point at loopback, link-local and private addresses (a lab, an internal relay).
    webhook_allow_private: bool = False
    # Incidents: "attacker" (one per agency and attacking address or user) or "rule"; the rule ids
    # (comma-separated) kept rule-centred whatever their files say; how long a case stays joinable.
    incident_grouping: str = "attacker"
    incident_group_by_rule: str = ""
    incident_window_minutes: int = 60

    @property
    def url(self) -> str:
        return self.opensearch_url or f"http://127.0.0.1:{self.node_port}"

    @property
    def external(self) -> bool:
        """True when an existing cluster is named and nothing local is started."""
        return self.opensearch_url is not None


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, raw: Any, kind: Any, where: str) -> Any:
    text = str(raw)
    try:
        if kind in (bool, "bool"):
            if text.lower() in _BOOL_TRUE:
                return True
            if text.lower() in _BOOL_FALSE:
                return False
            raise ValueError(text)
        if kind in (int, "int"):
            return int(text)
        if kind in (float, "float"):
            return float(text)
        if kind in (Path, "Path"):
            return Path(text).expanduser().resolve()
    except ValueError:
        raise ConfigError(f"{where}: {name} has an invalid value {text!r}") from None
    return text


def _field_kind(f: Any) -> Any:
    t = str(f.type)
    for kind in ("bool", "int", "float", "Path"):
        if t.startswith(kind):
            return kind
    return "str"


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read settings from a YAML file (optional) and then SOC_* environment variables.

    An unknown key or a bad value is refused with the file and line that is wrong.
    """
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    path = path or env.get("SOC_CONFIG")
    retention: dict[str, int] = {}
    if path:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read: {exc.strerror}") from None
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f":{mark.line + 1}" if mark else ""
            raise ConfigError(f"{p}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
        if node is not None:
            if not isinstance(node, yaml.MappingNode):
                raise ConfigError(f"{p}:1: the file must be a mapping of setting: value")
            for key_node, value_node in node.value:
                key = key_node.value
                where = f"{p}:{key_node.start_mark.line + 1}"
                if key == "retention":
                    if not isinstance(value_node, yaml.MappingNode):
                        raise ConfigError(f"{where}: retention must map data classes to days")
                    for rk, rv in value_node.value:
                        rwhere = f"{p}:{rk.start_mark.line + 1}"
                        if rk.value not in {f.name for f in fields(Retention)}:
                            raise ConfigError(f"{rwhere}: unknown data class {rk.value!r} under retention")
                        days = _coerce(f"retention.{rk.value}", rv.value, int, rwhere)
                        if days < 1:
                            raise ConfigError(f"{rwhere}: retention.{rk.value} must be at least 1 day")
                        retention[rk.value] = days
                    continue
                if key not in known:
                    raise ConfigError(f"{where}: unknown setting {key!r}")
                if not isinstance(value_node, yaml.ScalarNode):
                    raise ConfigError(f"{where}: {key} must be a single value")
                values[key] = _coerce(key, value_node.value, _field_kind(known[key]), where)
    for name, f in known.items():
        env_name = "SOC_" + name.upper()
        if env_name in env and name != "retention":
            values[name] = _coerce(name, env[env_name], _field_kind(f), env_name)
    settings = Settings(**values)
    if retention:
        settings = replace(settings, retention=replace(settings.retention, **retention))
    return settings
