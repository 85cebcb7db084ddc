"""The rule catalogue compiles a folder once and again only when one of its files changes."""

from __future__ import annotations

import os
from pathlib import Path

from soc.detection import catalogue
from soc.detection.convert import Compiled


def _write(folder: Path, name: str, value: str) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(f"title: {name}\nid: 6a1f0c1e-3333-4a7b-9c1d-{sum(map(ord, name)):012d}\n"
                    "logsource: {category: webserver}\n"
                    f"detection:\n    sel: {{c-uri|contains: '{value}'}}\n    condition: sel\nlevel: high\n")
    return path


def test_the_same_catalogue_until_a_rule_file_changes(tmp_path: Path) -> None:
    one = _write(tmp_path, "one", "/a")
    first = catalogue.get([tmp_path])
    assert [r.rule.title for r in first.compiled] == ["one"] and not first.problems
    assert catalogue.get([tmp_path]) is first  # nothing changed: not loaded again

    _write(tmp_path, "two", "/b")  # a file added
    second = catalogue.get([tmp_path])
    assert second is not first and sorted(r.rule.title for r in second.compiled) == ["one", "two"]

    _write(tmp_path, "one", "/changed")  # a file edited (its time moved on, as an editor would)
    stat = one.stat()
    os.utime(one, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    third = catalogue.get([tmp_path])
    edited = next(r for r in third.compiled if r.rule.title == "one")
    assert third is not second and isinstance(edited, Compiled) and "changed" in edited.query

    (tmp_path / "bad.yml").write_text("title: [unclosed\n")  # a broken file is reported, the rest still load
    fourth = catalogue.get([tmp_path])
    assert len(fourth.compiled) == 2 and [p.path.name for p in fourth.problems] == ["bad.yml"]
    assert "line 2" in fourth.problems[0].reason, fourth.problems[0].reason
    one.unlink()  # a file removed
    assert [r.rule.title for r in catalogue.get([tmp_path]).compiled] == ["two"]


def test_the_console_rulebook_follows_the_catalogue(tmp_path: Path) -> None:
    from soc.detection.settings import DetectionSettings
    from soc.web.rulebook import Rulebook

    _write(tmp_path, "first", "/a")
    book = Rulebook(DetectionSettings(rule_paths=(tmp_path,)))
    before = book.get()
    assert [r.title for r in before.rules.values()] == ["first"] and book.get() is before
    _write(tmp_path, "second", "/b")  # seen at once, not after a cache expires
    assert sorted(r.title for r in book.get().rules.values()) == ["first", "second"]
