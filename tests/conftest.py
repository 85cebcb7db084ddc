"""Test session: one real OpenSearch node, started here on a free port and stopped at the end.

Set SOC_TEST_OPENSEARCH_URL to run the integration tests against a node you already run.
Each test that writes data gets its own index prefix (``isolated`` fixture), so tests never see
each other's documents.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from soc import search
from soc.config import Settings, default_cache
from soc.opensearch import bootstrap, dist, node
from tests.intel.geodb import build_pair

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def geoip_databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ...]:
    """The suite's own City and ASN databases (tests.intel.geodb), which the session's node is given."""
    return build_pair(tmp_path_factory.mktemp("geoip"))


@pytest.fixture(scope="session")
def opensearch_settings(geoip_databases: tuple[Path, ...]) -> Iterator[Settings]:
    url = os.environ.get("SOC_TEST_OPENSEARCH_URL")
    if url:
        yield Settings(opensearch_url=url)
        return
    home = Path(tempfile.mkdtemp(prefix="soc-test-node-"))
    home.chmod(0o755)  # the node may run as the service user when tests run as root
    port = node.free_port()
    distribution = dist.install(Settings().opensearch_version, default_cache())
    node.start(distribution, home, port, heap=os.environ.get("SOC_TEST_HEAP", "1g"), timeout=180,
               geoip_databases=geoip_databases)
    try:
        yield Settings(node_port=port, node_home=home)
    finally:
        node.stop(home)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture()
def isolated(opensearch_settings: Settings) -> Iterator[Settings]:
    """Settings with a fresh index prefix, bootstrapped (templates, streams, indices)."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    settings = replace(opensearch_settings, index_prefix=prefix)
    client = search.client(settings)
    bootstrap.init(settings, client, search.names(settings))
    yield settings
    bootstrap.remove_prefix(client, prefix)


@pytest.fixture()
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip("the shared test data folder is not beside this checkout")
    return SHARED
