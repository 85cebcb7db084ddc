"""The Java runtime OpenSearch runs on: where it is and which version it is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from soc.errors import NodeError

MIN_JAVA = 11


def java_binary() -> Path:
    """The Java to run OpenSearch with: $OPENSEARCH_JAVA_HOME, $JAVA_HOME, then PATH."""
    for var in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        home = os.environ.get(var)
        if home:
            java = Path(home) / "bin" / "java"
            if not java.exists():
                raise NodeError(f"{var} is {home}, but {java} does not exist")
            return java
    found = shutil.which("java")
    if not found:
        raise NodeError("Java is not installed: install the Debian package 'openjdk-17-jre-headless'")
    return Path(found)


def java_major(java: Path) -> int:
    proc = subprocess.run([str(java), "-version"], capture_output=True, text=True, timeout=60, check=False)
    m = re.search(r'version "(\d+)(?:\.(\d+))?', proc.stderr + proc.stdout)
    if not m:
        raise NodeError(f"cannot tell the version of {java}: {proc.stderr.strip()[:200]}")
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def check_java() -> Path:
    java = java_binary()
    major = java_major(java)
    if major < MIN_JAVA:
        raise NodeError(f"{java} is Java {major}; OpenSearch 2.19 needs Java {MIN_JAVA} or newer (17 advised)")
    return java
