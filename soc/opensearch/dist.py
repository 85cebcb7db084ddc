"""Obtain the official OpenSearch distribution from Maven Central and assemble its modules.

The integ-test-zip distribution (``org.opensearch.distribution.integ-test-zip:opensearch``) is
the official minimal build: the server and the netty4 transport. The modules the service needs
on top of it (painless scripting, the common analyzers, the common ingest processors used by the
pipeline that stamps ``event.ingested``) are published on Maven Central as plain jars, so they
are fetched with their runtime dependencies and laid out as modules with a descriptor.

Everything is cached under the user's cache folder, verified against Maven's SHA-1, and
unpacked once.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from soc.errors import NodeError

GROUP = "org.opensearch.distribution.integ-test-zip"


@dataclass(frozen=True)
class Module:
    name: str
    artifact: str  # groupId:artifactId
    classname: str
    description: str
    extended: tuple[str, ...] = ()
    policy: str = ""
    # Empty files the module insists on finding in its folder (see _GEOIP_DEFAULTS).
    placeholders: tuple[str, ...] = ()


# Permissions granted to painless, as the distribution grants them: it generates and loads classes.
_PAINLESS_POLICY = """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""

# The geoip processor's MaxMind reader builds its response objects with jackson-databind, by reflection.
_GEOIP_POLICY = """grant {
  permission java.lang.RuntimePermission "accessDeclaredMembers";
  permission java.lang.reflect.ReflectPermission "suppressAccessChecks";
};
"""
# ingest-geoip refuses to start unless these three names exist in its own folder (the official build
# puts MaxMind's free databases of 2019 there) and do not exist among the operator's databases in
# config/ingest-geoip. The service's pipeline only ever names the operator's files (soc.intel.ingest_geo),
# so the module gets empty files: a processor that forgot its database_file fails loudly instead of
# answering from six-year-old data.
_GEOIP_DEFAULTS = ("GeoLite2-ASN.mmdb", "GeoLite2-City.mmdb", "GeoLite2-Country.mmdb")

MODULES: tuple[Module, ...] = (
    Module("lang-painless", "org.opensearch.plugin:lang-painless", "org.opensearch.painless.PainlessPlugin",
           "Painless scripting language", policy=_PAINLESS_POLICY),
    Module("analysis-common", "org.opensearch.plugin:analysis-common",
           "org.opensearch.analysis.common.CommonAnalysisPlugin", "Common analyzers, tokenizers and filters",
           extended=("lang-painless",)),
    Module("lang-mustache", "org.opensearch.plugin:lang-mustache-client",
           "org.opensearch.script.mustache.MustachePlugin", "Mustache templates",
           policy='grant {\n  permission java.lang.reflect.ReflectPermission "suppressAccessChecks";\n};\n'),
    Module("mapper-extras", "org.opensearch.plugin:mapper-extras-client",
           "org.opensearch.index.mapper.MapperExtrasPlugin", "Extra field types"),
    Module("reindex", "org.opensearch.plugin:reindex-client", "org.opensearch.index.reindex.ReindexPlugin",
           "Reindex, update-by-query and delete-by-query"),
    Module("ingest-common", "org.opensearch.plugin:ingest-common",
           "org.opensearch.ingest.common.IngestCommonPlugin", "Common ingest processors",
           extended=("lang-painless",)),
    # Matching many stored queries against a few documents (tests/benchmarks/bench_percolate.py weighs
    # it against per-rule searches for detection over per-agency streams).
    Module("percolator", "org.opensearch.plugin:percolator-client", "org.opensearch.percolator.PercolatorPlugin",
           "Percolator: match documents against stored queries"),
    Module("ingest-geoip", "org.opensearch.plugin:ingest-geoip", "org.opensearch.ingest.geoip.IngestGeoIpPlugin",
           "Ingest processor that adds geographical and network data of IP addresses", policy=_GEOIP_POLICY,
           placeholders=_GEOIP_DEFAULTS),
)


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise NodeError("Maven (mvn) is not installed: install the Debian package 'maven'")
    return mvn


def _run_mvn(args: list[str], what: str) -> None:
    cmd = [_mvn(), "-q", "-B", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except subprocess.TimeoutExpired:
        raise NodeError(f"Maven did not finish fetching {what} within 15 minutes") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "ERROR" in ln]
        reason = re.sub(r"\x1b\[[0-9;]*m", "", lines[0]) if lines else f"exit code {proc.returncode}"
        raise NodeError(f"cannot download {what} from Maven Central: {reason.strip()[:300]}")


def _m2_repo() -> Path:
    return Path(os.environ.get("SOC_M2_REPO", str(Path.home() / ".m2" / "repository")))


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()  # noqa: S324 - Maven Central publishes SHA-1 checksums; used for integrity only
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_archive(version: str, cache: Path) -> Path:
    """Return the verified distribution zip in the cache, downloading it with Maven if needed."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"opensearch-{version}.zip"
    sums = cache / f"opensearch-{version}.zip.sha1"
    if not target.exists() or not sums.exists():
        artifact = f"{GROUP}:opensearch:{version}:zip"
        _run_mvn(["dependency:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={cache}"],
                 f"the OpenSearch {version} distribution ({artifact})")
        published = _m2_repo() / GROUP.replace(".", "/") / "opensearch" / version / f"opensearch-{version}.zip.sha1"
        if not published.exists():
            raise NodeError(f"Maven fetched {target.name} but left no published checksum at {published}")
        sums.write_text(published.read_text().split()[0].strip() + "\n")
    expected = sums.read_text().strip()
    actual = sha1_of(target)
    if actual != expected:
        raise NodeError(
            f"the cached archive {target} is corrupted (sha1 {actual}, expected {expected}); "
            "delete it and run again"
        )
    return target


def _jar_artifact(name: str) -> str:
    """'asm-util-9.7.jar' -> 'asm-util'."""
    m = re.match(r"(.+?)-\d[\w.\-]*\.jar$", name)
    return m.group(1) if m else name


def _write_descriptor(folder: Path, mod: Module, version: str) -> None:
    lines = [
        f"description={mod.description}",
        f"version={version}",
        f"name={mod.name}",
        f"classname={mod.classname}",
        "java.version=11",
        f"opensearch.version={version}",
        f"extended.plugins={','.join(mod.extended)}",
        "has.native.controller=false",
    ]
    (folder / "plugin-descriptor.properties").write_text("\n".join(lines) + "\n")
    if mod.policy:
        (folder / "plugin-security.policy").write_text(mod.policy)
    for name in mod.placeholders:
        (folder / name).touch()


def assemble_modules(home: Path, version: str) -> None:
    """Add the modules the service needs to an unpacked distribution, with their own dependencies.

    Jars the server already ships in lib/ are left out, as the official build does (a jar twice on
    the class path is refused by the server's jar-hell check).
    """
    lib = {_jar_artifact(p.name) for p in (home / "lib").glob("*.jar")}
    modules = home / "modules"
    with tempfile.TemporaryDirectory(prefix="soc-modules-") as tmp:
        for mod in MODULES:
            if (modules / mod.name / "plugin-descriptor.properties").exists():
                continue
            taken = set(lib)
            for parent in mod.extended:
                taken |= {_jar_artifact(p.name) for p in (modules / parent).glob("*.jar")}
            group, artifact = mod.artifact.split(":")
            pom = Path(tmp) / f"{mod.name}.xml"
            pom.write_text(
                '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
                f"<groupId>local.soc</groupId><artifactId>{mod.name}-module</artifactId><version>1</version>"
                f"<dependencies><dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
                f"<version>{version}</version></dependency></dependencies></project>"
            )
            out = Path(tmp) / mod.name
            _run_mvn(["-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
                      f"-DoutputDirectory={out}"], f"the {mod.name} module {version}")
            dest = modules / mod.name
            # staged beside the distribution, not in modules/: a node starting meanwhile reads every folder there
            staging = home.parent / f".{home.name}.{mod.name}.partial"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            for jar in sorted(out.glob("*.jar")):
                a = _jar_artifact(jar.name)
                # Extended plugins' jars are visible to their children through the parent loader.
                if a in taken and a != artifact:
                    continue
                shutil.copy2(jar, staging / jar.name)
            _write_descriptor(staging, mod, version)
            staging.rename(dest)


def install(version: str, cache: Path) -> Path:
    """The unpacked, assembled distribution for ``version``; fetched, verified, unpacked once."""
    home = cache / f"opensearch-{version}"
    marker = home / ".soc-ready"
    if marker.exists():
        if any(not (home / "modules" / m.name).is_dir() for m in MODULES):
            assemble_modules(home, version)  # a newer release of the service needs another module
        return home
    archive = fetch_archive(version, cache)
    staging = cache / f".opensearch-{version}.unpack"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise NodeError(f"the cached archive {archive} is corrupted at {bad}; delete it and run again")
            zf.extractall(staging)
    except zipfile.BadZipFile:
        raise NodeError(f"the cached archive {archive} is not a valid zip; delete it and run again") from None
    inner = staging / f"opensearch-{version}"
    for script in (inner / "bin").iterdir():
        script.chmod(0o755)
    assemble_modules(inner, version)
    shutil.rmtree(home, ignore_errors=True)
    inner.rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    marker.write_text(sha1_of(archive) + "\n")
    return home
