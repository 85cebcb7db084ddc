"""The shipped YAML pipeline is the engine's, and sigma-cli with it prints the engine's query."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from soc.detection import convert, dsl, pipeline, rules

ROOT = Path(__file__).resolve().parents[2]


def test_yaml_file_is_generated_from_the_data() -> None:
    assert pipeline.PIPELINE_FILE.read_text(encoding="utf-8") == pipeline.pipeline_yaml()


def test_sigma_cli_gives_the_engine_query() -> None:
    paths = [ROOT / "rules/web/sql_injection.yml", ROOT / "rules/linux/sudo/root_shell.yml"]
    loaded, _ = rules.load(paths)
    engine = [c.query for c in convert.compile_rules(loaded) if isinstance(c, convert.Compiled)]
    sigma = Path(sys.executable).with_name("sigma")
    out = subprocess.run([str(sigma), "convert", "-t", "opensearch_lucene", "-p", str(pipeline.PIPELINE_FILE),
                          *map(str, paths)], capture_output=True, text=True, check=True, timeout=120)
    printed = [line for line in out.stdout.splitlines() if line.strip()]
    assert printed == engine
    # the engine runs the printed query rebuilt as DSL (soc.detection.dsl), the same for both
    compiled = [c for c in convert.compile_rules(loaded) if isinstance(c, convert.Compiled)]
    assert [dsl.translate(q) for q in printed] == [c.dsl() for c in compiled]
    assert all("wildcard" in str(c.dsl()) for c in compiled)


def test_unmapped_logsource_is_reported(tmp_path: Path) -> None:
    f = tmp_path / "r.yml"
    f.write_text("title: t\nid: 0e6f8a53-1111-4a7b-9c1d-000000000001\n"
                 "logsource: {product: windows, service: security}\n"
                 "detection: {sel: {EventID: 4625}, condition: sel}\nlevel: low\n")
    loaded, _ = rules.load([f])
    [res] = convert.compile_rules(loaded)
    assert isinstance(res, convert.Unsupported) and "not mapped" in res.reason


def test_public_rules_coverage(shared_dir: Path) -> None:
    loaded, problems = rules.load([shared_dir / "sigma/rules", shared_dir / "sigma/rules-emerging-threats"])
    results = convert.compile_rules(loaded)
    assert not problems and len(results) == 116
    unsupported = [r for r in results if isinstance(r, convert.Unsupported)]
    assert not unsupported, [(r.rule.path.name, r.reason) for r in unsupported]
