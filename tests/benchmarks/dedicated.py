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
def dedicated_node(heap: str = "1g", keep: bool = False) -> Iterator[str]:
    """Starts a single node bound to 127.0.0.1 and yields its URL; stops it and removes its home, unless
    ``keep`` (then its home is printed, and ``stop_dedicated(home)`` ends it later)."""
    home = Path(tempfile.mkdtemp(prefix="soc-bench-node-"))
    home.chmod(0o755)  # the node runs as the service user when started by root
    port = node.free_port()
    distribution = dist.install(Settings().opensearch_version, default_cache())
    node.start(distribution, home, port, heap=heap, timeout=300)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        if keep:
            print(f"node kept running: http://127.0.0.1:{port}, home {home}")
        else:
            stop_dedicated(home)


def stop_dedicated(home: Path) -> None:
    """Stop a dedicated node and remove its home (its data with it)."""
    node.stop(home)
    shutil.rmtree(home, ignore_errors=True)
