"""A dedicated OpenSearch node for benchmarks: own temporary home, free port, stopped at the end."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from soc.config import Settings, default_cache
from soc.opensearch import dist, node


@contextmanager
def dedicated_node(heap: str = "1g") -> Iterator[str]:
    """Starts a single node bound to 127.0.0.1 and yields its URL; stops it and removes its home."""
    home = Path(tempfile.mkdtemp(prefix="soc-bench-node-"))
    home.chmod(0o755)  # the node runs as the service user when started by root
    port = node.free_port()
    distribution = dist.install(Settings().opensearch_version, default_cache())
    node.start(distribution, home, port, heap=heap, timeout=300)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        node.stop(home)
        shutil.rmtree(home, ignore_errors=True)
