"""Fixtures for the browser lane: a real `billhook serve` subprocess on SQLite and headless Chromium.

Skipped when Chromium or Playwright is missing, unless BILLHOOK_REQUIRE_BROWSER=1 (then it fails).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, Dashboard, Server
from tests.conftest import Api
from tests.e2e.support import clean_env, free_port, spawn, stop, wait_for
from tests.webhooks.listener import Listener

CLOCK_START = "2026-03-30T12:00:00Z"


def _unavailable(reason: str) -> None:
    if os.environ.get("BILLHOOK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (BILLHOOK_REQUIRE_BROWSER=1) but {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (set BILLHOOK_REQUIRE_BROWSER=1 to make this an error)")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _first_line(out: str) -> str | None:
    return out.split("\n", 1)[0] if "\n" in out else None


@pytest.fixture
def server(tmp_path: Path, chromium: Any) -> Iterator[Server]:
    """`billhook serve --test-clock` on a fresh SQLite file; its first API key read from stdout."""
    port = free_port()
    args = ["serve", "--port", str(port), "--test-clock", "--test-clock-start", CLOCK_START]
    proc = spawn(args, env=clean_env(), cwd=tmp_path, label="serve")
    rc: int | None = None
    try:
        wait_for(lambda: _ready(f"http://127.0.0.1:{port}"), timeout=60, what="/readyz", procs=[proc])
        key = wait_for(lambda: _first_line(proc.out()), timeout=30, what="the first API key", procs=[proc])
        assert key.startswith("bh_"), proc.describe()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield Server(port=port, key=key, api=Api(client, key), proc=proc)
    finally:
        rc = stop(proc)
    assert rc == 0, proc.describe()
    assert "Traceback" not in proc.err(), proc.describe()  # no page or worker step failed on the server


@pytest.fixture
def dash(server: Server, chromium: Any) -> Iterator[Dashboard]:
    """A fresh browser context on the server (http://localhost: the Secure cookie needs a secure context)."""
    context = chromium.new_context(base_url=server.base, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    board = Dashboard(page, server)
    page.on("pageerror", lambda exc: board.page_errors.append(str(exc)))
    try:
        yield board
    finally:
        context.close()
    assert board.page_errors == [], board.page_errors


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()
