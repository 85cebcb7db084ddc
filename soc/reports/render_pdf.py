"""The PDF: the HTML report laid out by WeasyPrint (Pango underneath), with no network access.

Every resource the report needs is inline (charts are data URIs, fonts come from the system), so
the fetcher refuses any URL that is not ``data:``; what it refused is kept for the caller to see.
"""

from __future__ import annotations

from typing import Any

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse


class DataOnlyFetcher(URLFetcher):  # type: ignore[misc]
    """Serves ``data:`` URLs and refuses everything else (http, https, file, ftp...)."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False, fail_on_errors=False)
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if not url.lower().startswith("data:"):
            self.refused.append(url)
            raise ValueError(f"the report fetches nothing from outside: {url[:100]}")
        response: URLFetcherResponse = super().fetch(url, headers)
        return response


def render(html: str, fetcher: DataOnlyFetcher | None = None) -> bytes:
    fetcher = fetcher or DataOnlyFetcher()
    pdf: bytes = HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf()
    return pdf
