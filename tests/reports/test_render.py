"""The rendered report: HTML escapes attacker-written strings, CSV cells cannot run formulas, the PDF
renders Vietnamese text and fetches nothing from outside."""

from __future__ import annotations

import csv
import io
import re
import socket
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from soc import search
from soc.config import Settings
from soc.reports import period, render_csv, render_pdf, service
from soc.reports.settings import ReportSettings
from tests.reports.conftest import AFTER, FORMULA_USER, XSS_COMMENT, XSS_PATH, XSS_TITLE, XSS_UA, A, B

TZ = "Asia/Ho_Chi_Minh"


def produce(settings: Settings, out: Path, agency: str | None, lang: str, formats: tuple[str, ...]) -> service.Produced:
    return service.produce(search.client(settings), search.names(settings), ReportSettings(out_dir=out),
                           period.parse("2025-W10", TZ), agency, lang, formats, "test", AFTER)


def test_html_escapes_every_log_string(dataset: Settings, tmp_path: Path) -> None:
    made = produce(dataset, tmp_path, A, "en", ("html", "json"))
    html = made.paths["html"].read_text(encoding="utf-8")
    for payload in (XSS_PATH, XSS_TITLE, XSS_COMMENT):
        assert payload not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the targeted URL, shown as text
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt; attack" in html  # the incident title
    assert "Blocked &lt;b&gt;203.0.113.7&lt;/b&gt; at the firewall" in html  # the analyst's note
    # The page has no script element at all, and every tag in it is one the template wrote.
    assert "<script" not in html.lower()
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "div", "strong", "code",
                    "table", "tr", "th", "td", "img", "p", "br", "small", "footer"}
    assert XSS_UA not in html  # the user agent is not shown, and would be escaped if it were
    # Charts are inline SVG data URIs; nothing is loaded from elsewhere.
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/svg+xml;base64,") for s in srcs)


def test_csv_neutralizes_formulas(dataset: Settings, tmp_path: Path) -> None:
    made = produce(dataset, tmp_path, A, "en", ("csv",))
    text = made.paths["csv"].read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(render_csv.HEADER)
    cells = [cell for row in rows for cell in row]
    assert "'" + FORMULA_USER.lower() in cells
    # Only numbers (negative changes) may start with "-"; no text cell starts with a formula character.
    risky = [c for c in cells if c.startswith(render_csv.DANGEROUS_START)]
    assert risky and all(re.fullmatch(r"-\d+(\.\d+)?", c) for c in risky)
    assert ["overview", "events", "", "20", "6", "14"] in rows
    assert ["top_urls", XSS_PATH, "", "1", "", ""] in rows


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_neutralize_each_dangerous_start(value: str) -> None:
    assert render_csv.neutralize(value) == "'" + value
    assert render_csv.neutralize("a" + value) == "a" + value
    assert render_csv.neutralize(-3) == -3


def test_pdf_renders_vietnamese_and_is_not_blank(dataset: Settings, tmp_path: Path) -> None:
    made = produce(dataset, tmp_path, B, "vi", ("pdf",))
    pdf = made.paths["pdf"]
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode("utf-8")
    flat = " ".join(text.split())
    for heading in ("Báo cáo an ninh mạng hằng tuần", "Sự kiện đã thu thập", "Tình trạng nguồn log", "Cảnh báo",
                    "Sự cố nghiêm trọng", "Thay đổi quy tắc và ngoại lệ"):
        assert heading in flat
    assert "Ủy ban nhân dân thành phố Đông Hà" in flat
    subprocess.run(["pdftoppm", "-r", "40", "-gray", str(pdf), str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page*.pgm"))
    assert len(pages) >= 2
    for page in pages:
        with Image.open(page) as img:
            histogram = img.histogram()
        inked = sum(histogram[:200])  # pixels clearly darker than the white paper
        assert histogram[255] > inked > 100, f"{page.name} looks blank ({inked} inked pixels)"


def test_pdf_fetches_nothing_from_outside(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    html = (f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/x.css"></head><body>'
            f'<p>Đông Hà</p><img src="http://127.0.0.1:{port}/t.png"><img src="file:///etc/hostname">'
            '<img src="data:image/svg+xml;base64,'
            'PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciLz4="></body></html>')
    fetcher = render_pdf.DataOnlyFetcher()
    pdf = render_pdf.render(html, fetcher)
    assert pdf.startswith(b"%PDF-")
    assert sorted(fetcher.refused) == sorted([f"http://127.0.0.1:{port}/x.css", f"http://127.0.0.1:{port}/t.png",
                                              "file:///etc/hostname"])
    with pytest.raises(BlockingIOError):
        listener.accept()
    listener.close()
