from pathlib import Path

import pytest

from soc.config import load_settings
from soc.errors import ConfigError


def test_defaults_and_environment_override(tmp_path: Path) -> None:
    s = load_settings(env={"SOC_NODE_PORT": "9333", "SOC_OPENSEARCH_VERIFY_CERTS": "false"})
    assert s.node_port == 9333
    assert s.opensearch_verify_certs is False
    assert s.url == "http://127.0.0.1:9333"
    assert not s.external


def test_file_then_environment(tmp_path: Path) -> None:
    f = tmp_path / "soc.yml"
    f.write_text("opensearch_url: https://search.example:9200\nnode_heap: 2g\nretention:\n  web: 30\n")
    s = load_settings(f, env={"SOC_NODE_HEAP": "3g"})
    assert s.external and s.url == "https://search.example:9200"
    assert s.node_heap == "3g"
    assert s.retention.web == 30 and s.retention.syslog == 90


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("node_port: 9200\nnode_prot: 1\n", ":2: unknown setting 'node_prot'"),
        ("node_port: nine\n", ":1: node_port has an invalid value 'nine'"),
        ("retention:\n  web: 0\n", ":2: retention.web must be at least 1 day"),
        ("retention:\n  logs: 3\n", ":2: unknown data class 'logs'"),
        ("node_port: [1, 2]\n", ":1: node_port must be a single value"),
        ("a: b\n  c: : d\n", ":2: not valid YAML"),
    ],
)
def test_bad_file_names_the_line(tmp_path: Path, text: str, where: str) -> None:
    f = tmp_path / "soc.yml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(f, env={})
    assert where in str(err.value)
    assert str(f) in str(err.value)
