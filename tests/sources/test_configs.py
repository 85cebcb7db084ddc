"""Generated configuration, checked by the collector's real validator; the deploy example too;
bad onboarding input is refused with the reason and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from collectors.config import load_config, parse_config
from soc import search
from soc.config import Settings
from soc.errors import Conflict, Invalid
from soc.sources import configs, service
from tests.sources.conftest import ADMIN, add_agency

REPO = Path(__file__).resolve().parents[2]
AGENCY = {"id": "so-a", "name_en": "A", "timezone": "Asia/Ho_Chi_Minh"}


def _source(kind: str, **kw: object) -> dict[str, object]:
    web = kind in configs.WEB_TYPES
    return {"id": f"so-a-{kind}-abc123", "type": kind, "name": "n", "organization": {"id": "so-a"},
            "log_path": "/var/log/nginx/access.log" if web else None,
            "collector": {"id": "col-so-a", "address": "collector.so-a.vn", "port": None if web else 6514,
                          "protocol": None if web else "tcp"}} | kw


def test_deploy_example_is_valid() -> None:
    config = load_config(REPO / "deploy" / "collector.example.yml")
    assert config.organization_id == "so-example" and len(config.sources) == 2


def test_generated_collector_file_is_accepted(tmp_path: Path) -> None:
    sources = [_source("syslog"), _source("nginx", id="so-a-nginx-abc123"), _source("apache", id="so-a-apache-1")]
    text = configs.collector_file(AGENCY, "col-so-a", sources, configs.Paths(queue_dir=str(tmp_path)),
                                  "https://soc.example:9200")
    config = parse_config(text, "generated.yml")
    by_id = {s.id: s for s in config.sources}
    assert by_id["so-a-syslog-abc123"].port == 6514 and by_id["so-a-syslog-abc123"].protocol == "tcp"
    assert by_id["so-a-nginx-abc123"].file is not None
    assert by_id["so-a-nginx-abc123"].file.paths == ("/var/log/nginx/access.log*",)
    assert by_id["so-a-apache-1"].file is not None and by_id["so-a-apache-1"].file.format == "apache"
    assert config.opensearch.user == "collector-so-a" and config.timezone == "Asia/Ho_Chi_Minh"


def test_forwarding_snippets_name_the_source_and_collector() -> None:
    tls = _source("syslog", collector={"id": "col-so-a", "address": "collector.so-a.vn", "port": 6515,
                                       "protocol": "tls"})
    rs = configs.rsyslog(tls, configs.Paths())
    for needle in ('target="collector.so-a.vn" port="6515"', 'TCP_Framing="octet-counted"', 'StreamDriver="gtls"',
                   'StreamDriverMode="1"', 'StreamDriverPermittedPeers="collector.so-a.vn"',
                   'queue.type="LinkedList" queue.filename="soc-so-a-syslog-abc123"', 'queue.saveOnShutdown="on"'):
        assert needle in rs
    ng = configs.syslog_ng(tls, configs.Paths())
    assert 'syslog("collector.so-a.vn" port(6515) transport("tls")' in ng
    assert "disk-buffer(reliable(yes)" in ng and "destination(d_soc_so_a_syslog_abc123)" in ng
    entry = yaml.safe_load(configs.bundle(tls, AGENCY, configs.Paths())["collector-source-so-a-syslog-abc123.yml"])
    assert entry[0]["listen"] == "0.0.0.0:6515" and entry[0]["tls"]["cert"] == "/etc/soc/tls/collector.pem"
    web = configs.bundle(_source("apache", log_path="/var/log/apache2/portal.log"), AGENCY, configs.Paths())
    assert "CustomLog /var/log/apache2/portal.log vhost_combined" in web["apache-so-a-apache-abc123.conf"]


def test_bad_input_is_refused_and_nothing_stored(isolated: Settings) -> None:
    client, names = search.client(isolated), search.names(isolated)
    add_agency(isolated, "so-a", address="collector.so-a.vn")
    with pytest.raises(Conflict):
        add_agency(isolated, "so-a")
    cases = [
        ({"agency_id": "so-a", "source_type": "iis", "name": "x"}, "type"),
        ({"agency_id": "so-a", "source_type": "syslog", "name": "bad;name"}, "name"),
        ({"agency_id": "so-a", "source_type": "syslog", "name": "x", "host": "a b"}, "host"),
        ({"agency_id": "so-a", "source_type": "syslog", "name": "x", "silence_after": 0}, "silence_after"),
        ({"agency_id": "so-a", "source_type": "nginx", "name": "x"}, "host"),
        ({"agency_id": "so-a", "source_type": "nginx", "name": "x", "host": "w", "log_path": "/x/$(id)"}, "log_path"),
    ]
    for kwargs, field in cases:
        with pytest.raises(Invalid, match=field):
            service.new_source(client, names, ADMIN, **kwargs)  # type: ignore[arg-type]
    assert service.listing(client, names, ADMIN) == []
    first = service.new_source(client, names, ADMIN, "so-a", "syslog", "fw 1")
    second = service.new_source(client, names, ADMIN, "so-a", "syslog", "fw 2")
    assert (first["collector"]["port"], second["collector"]["port"]) == (6514, 6515)
    assert [s["id"] for s in service.listing(client, names, ADMIN, "so-a")] == [first["id"], second["id"]]
    service.remove(client, names, ADMIN, first["id"])
    assert [s["id"] for s in service.listing(client, names, ADMIN)] == [second["id"]]
