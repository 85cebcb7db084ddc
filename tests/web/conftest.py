"""Console fixtures: one seeded deployment per test module, the app served over HTTP, and a
headless Chromium (Debian's, by path) that fails the test on any dialog or console error."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright

from soc import search
from soc.config import Settings
from soc.opensearch import bootstrap
from tests.conftest import SHARED
from tests.web import world as w

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).with_name("artifacts")


@pytest.fixture(scope="module")
def world(opensearch_settings: Settings) -> Iterator[w.World]:
    """Like ``isolated``, but shared by the tests of one module (seeding runs detection once)."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    settings = replace(opensearch_settings, index_prefix=prefix)
    client = search.client(settings)
    bootstrap.init(settings, client, search.names(settings))
    try:
        yield w.build(settings, SHARED if SHARED.exists() else None)
    finally:
        bootstrap.remove_prefix(client, prefix)


@pytest.fixture(scope="module")
def base_url(world: w.World) -> Iterator[str]:
    with w.serve(w.app_for(world)) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class Watch:
    """Every dialog and console error a page produced (a test fails on any)."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def dialog(self, d: Dialog) -> None:
        self.problems.append(f"dialog {d.type}: {d.message}")
        d.dismiss()

    def console(self, m: ConsoleMessage) -> None:
        if m.type in ("error", "warning"):
            self.problems.append(f"console {m.type}: {m.text}")

    def page_error(self, exc: Any) -> None:
        self.problems.append(f"page error: {exc}")


@pytest.fixture()
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, locale="en-US", viewport={"width": 1360, "height": 900})
    pg = context.new_page()
    watch = Watch()
    pg.on("dialog", watch.dialog)
    pg.on("console", watch.console)
    pg.on("pageerror", watch.page_error)
    yield pg
    context.close()
    assert not watch.problems, watch.problems


def login(pg: Page, name: str, password: str = w.PASSWORD) -> None:
    pg.goto("/console/login")
    pg.get_by_label("User name").fill(name)
    pg.get_by_label("Password").fill(password)
    pg.locator("#login").click()
    pg.wait_for_url("**/console/incidents**")


def shot(pg: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
