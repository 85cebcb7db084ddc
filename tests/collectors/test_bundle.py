"""The collector's own distribution and its offline bundle, built and installed here with no package index.

The bundle is built by ``scripts/collector-bundle.sh --offline`` from the wheel cache setup fills,
and its ``install.sh`` installs it into a fresh virtual environment. Both run with every proxy set
to a closed loopback port, so any attempt to reach a package index fails the test. The installed
collector must run without the service's libraries, and ship real ``logger`` messages to the
session's OpenSearch node.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from packaging.tags import cpython_tags
from packaging.utils import parse_wheel_filename

import collectors
from soc import ecs, search
from soc.config import Settings
from soc.sources import configs
from tests.collectors.conftest import REPO, CollectorProcess, config_dict, scan

SERVICE_ONLY = ("soc", "fastapi", "uvicorn", "opensearchpy", "sigma", "weasyprint", "matplotlib", "apscheduler")
NAME = f"soc-collector-{collectors.__version__}"
# Debian 12, CPython 3.11, x86-64 (glibc 2.36)
TARGET = {str(t) for t in cpython_tags((3, 11), ["cp311"],
                                       ["manylinux2014_x86_64", *(f"manylinux_2_{m}_x86_64" for m in range(17, 37))])}
TARGET |= {"py3-none-any", "py2.py3-none-any"}


def _offline_env(**extra: str) -> dict[str, str]:
    """The environment with every proxy on a closed port: a package index is unreachable."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("PIP_", "PYTHONPATH"))}
    closed = "http://127.0.0.1:9"
    env.update(HTTP_PROXY=closed, HTTPS_PROXY=closed, ALL_PROXY=closed, http_proxy=closed, https_proxy=closed,
               all_proxy=closed, NO_PROXY="", no_proxy="", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def _run(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, env=env or _offline_env(), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{argv}: {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle")
    proc = subprocess.run(["bash", str(REPO / "scripts" / "collector-bundle.sh"), "--offline"],
                          env=_offline_env(BUNDLE_DIR=str(out), PYTHON=sys.executable), cwd=REPO,
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (
        f"the bundle did not build from the wheel cache (fill it with scripts/collector-bundle.sh --fetch, "
        f"which scripts/setup.sh runs):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return out / f"{NAME}-offline.tar.gz"


@pytest.fixture(scope="module")
def unpacked(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    return where / NAME


@pytest.fixture(scope="module")
def prefix(unpacked: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """install.sh --prefix into a fresh folder, with the test's interpreter as the base Python."""
    target = tmp_path_factory.mktemp("prefix") / "soc-collector"
    proc = _run(["bash", str(unpacked / "install.sh"), "--prefix", str(target)],
                env=_offline_env(PYTHON=sys.executable), cwd=unpacked.parent)
    assert f"installed in {target}" in proc.stdout and "systemctl enable --now soc-collector" in proc.stdout
    return target


def test_the_bundle_holds_the_collector_its_dependencies_and_the_install_files(archive: Path) -> None:
    with tarfile.open(archive) as tar:
        names = {m.name.removeprefix(f"{NAME}/") for m in tar.getmembers() if m.isfile()}
        sums = tar.extractfile(f"{NAME}/SHA256SUMS")
        assert sums is not None
        listed: dict[str, str] = {}
        for line in sums.read().decode().splitlines():
            digest, name = line.split("  ", 1)
            listed[name] = digest
        for name, digest in listed.items():
            member = tar.extractfile(f"{NAME}/wheels/{name}")
            assert member is not None and hashlib.sha256(member.read()).hexdigest() == digest
        install = tar.getmember(f"{NAME}/install.sh")
        assert install.mode & 0o111
        vi = tar.extractfile(f"{NAME}/INSTALL.vi.txt")
        assert vi is not None and "cài đặt" in vi.read().decode("utf-8").lower()
    assert {"install.sh", "soc-collector.service", "collector.example.yml", "INSTALL.en.txt", "INSTALL.vi.txt",
            "SHA256SUMS"} <= names
    wheels = {n.removeprefix("wheels/") for n in names if n.startswith("wheels/")}
    assert set(listed) == wheels
    projects = {str(parse_wheel_filename(w)[0]) for w in wheels}
    assert {"soc-collector", "pyyaml", "httpx", "orjson", "ua-parser", "prometheus-client"} <= projects
    assert not projects & {"soc-service", "fastapi", "opensearch-py", "pysigma", "weasyprint", "matplotlib"}
    for wheel in wheels:  # every wheel installs on the target, whatever machine built the bundle
        assert {str(t) for t in parse_wheel_filename(wheel)[3]} & TARGET, wheel


def test_the_collector_wheel_holds_every_module_of_the_tree(unpacked: Path) -> None:
    wheel = unpacked / "wheels" / f"soc_collector-{collectors.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        packaged = {n for n in zf.namelist() if n.endswith(".py")}
        metadata = zf.read(f"soc_collector-{collectors.__version__}.dist-info/METADATA").decode()
    tree = {str(p.relative_to(REPO)) for p in (REPO / "collectors").rglob("*.py")
            if "build" not in p.relative_to(REPO).parts}
    assert packaged == tree
    requires = {re.split(r"[\[<>=;! ]", line.removeprefix("Requires-Dist: "))[0].lower().replace("_", "-")
                for line in metadata.splitlines() if line.startswith("Requires-Dist: ")}
    assert requires == {"pyyaml", "httpx", "orjson", "ua-parser", "prometheus-client"}


def test_installed_collector_runs_without_the_service(prefix: Path, unpacked: Path, tmp_path: Path) -> None:
    python = prefix / "bin" / "python"
    env = _offline_env()
    found = _run([str(python), "-c", "import importlib.util as u, sys; "
                  f"print(' '.join(m for m in {SERVICE_ONLY!r} if u.find_spec(m)))"], env=env, cwd=tmp_path)
    assert found.stdout.strip() == ""
    listed = _run([str(python), "-m", "pip", "list", "--format=freeze"], env=env, cwd=tmp_path).stdout.lower()
    installed = {line.split("==", 1)[0] for line in listed.splitlines()}
    assert "soc-collector" in installed
    assert not installed & {"fastapi", "uvicorn", "weasyprint", "matplotlib", "pysigma", "apscheduler",
                            "opensearch-py", "soc-service"}, installed
    version = _run([str(python), "-c", "import collectors; print(collectors.__version__)"], env=env, cwd=tmp_path)
    assert version.stdout.strip() == collectors.__version__
    assert "replay" in _run([str(prefix / "bin" / "soc-collector"), "--help"], env=env, cwd=tmp_path).stdout
    checked = _run([str(prefix / "bin" / "soc-collector"), "check", "-c", str(unpacked / "collector.example.yml")],
                   env=env, cwd=tmp_path)
    assert ": ok: collector col-so-example-01 of so-example, 3 source(s)" in checked.stdout
    unit = (prefix / "share" / "soc-collector" / "soc-collector.service").read_text()
    assert f"ExecStart={prefix}/bin/soc-collector run -c /etc/soc/collector.yml" in unit


def test_install_refuses_an_unknown_argument(unpacked: Path, tmp_path: Path) -> None:
    proc = subprocess.run(["bash", str(unpacked / "install.sh"), "--prefx", str(tmp_path / "x")],
                          env=_offline_env(PYTHON=sys.executable), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown argument: --prefx" in proc.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.integration
def test_installed_collector_ships_logger_messages(prefix: Path, isolated: Settings, tmp_path: Path,
                                                   processes: list[Any]) -> None:
    queue = tmp_path / "q"
    cfg = config_dict(isolated, queue, [{"id": "bundle-tcp", "type": "syslog", "protocol": "tcp",
                                         "listen": "127.0.0.1:0"}])
    path = tmp_path / "collector.yml"
    path.write_text(yaml.safe_dump(cfg))
    proc = CollectorProcess(path, queue, command=[str(prefix / "bin" / "soc-collector")])
    processes.append(proc)
    proc.start()
    tag = uuid.uuid4().hex[:10]
    for i in range(3):
        subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(proc.port("bundle-tcp")), "-T", "--rfc5424",
                        "-t", "sshd", f"{tag} message {i}"], check=True, timeout=30)
    proc.wait(shipped=3)
    metrics = httpx.get(f"http://127.0.0.1:{proc.runtime['metrics_port']}/metrics", timeout=30).text
    assert re.search(r"^soc_collector_shipped_total 3\.0$", metrics, re.M)
    proc.stop()
    stream = search.Names(isolated.index_prefix).stream("logs-syslog", "so-test")
    hits = scan(isolated, stream, {"match": {"event.original": tag}})
    assert sorted(h["_source"]["message"].split(tag)[1] for h in hits) == [" message 0", " message 1",
                                                                           " message 2"]
    for hit in hits:
        src = hit["_source"]
        assert src["agent"]["version"] == collectors.__version__ and src["log"]["source"]["id"] == "bundle-tcp"
        assert src["process"]["name"] == "sshd"
        assert ecs.unknown_fields(src) == []


def test_service_pins_the_collector_version_and_onboarding_names_the_bundle(archive: Path) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert f"soc-collector=={collectors.__version__}" in project["dependencies"]
    assert "soc-collector" not in project.get("scripts", {})
    assert configs.collector_bundle_name() == archive.name
    agency = {"id": "so-a", "name_en": "A", "timezone": "UTC"}
    source = {"id": "so-a-web-1", "type": "nginx", "name": "portal", "log_path": "/var/log/nginx/access.log",
              "collector": {"id": "col-so-a", "address": "10.0.0.5"}, "organization": {"id": "so-a"}}
    files = configs.bundle(source, agency, configs.Paths())
    whole = configs.collector_file(agency, "col-so-a", [source], configs.Paths(), "https://soc.example:9200")
    for text in (files["collector-source-so-a-web-1.yml"], whole):
        assert f"dist/{archive.name}" in text and "sudo ./install.sh" in text
        assert f"tar xzf {archive.name} && cd {NAME} " in text
