"""Browser tests: Playwright (sync API) driving Debian's Chromium against the real server on 127.0.0.1.

Every request a page makes is recorded; a test fails if anything leaves 127.0.0.1 (the console must work on an
office network without internet). Screenshots of the main pages go to tests/screenshots/ (gitignored).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # the tests folder: conftest helpers and support modules

from test_console_support import PASSWORD, add_accounts  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent.parent / "screenshots"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: .ci/run installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def config(make_config):
    """The live server's config: a price for campaign previews, and no quiet hours (tests run at any hour)."""
    return make_config(campaigns={"price_per_segment": 0.035, "quiet_hours": ["00:00", "00:00"]})


@pytest.fixture
def console_live(live):
    add_accounts(live.app)
    return live


class Console:
    """A browser page on the console, with sign-in, screenshots and a record of every request made."""

    def __init__(self, page, base: str):
        self.page, self.base = page, base
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", self._console_message)
        page.on("pageerror", lambda e: self.console_errors.append(str(e)))

    def _console_message(self, message) -> None:
        # an error page's own status (403, 422...) is logged by Chromium as a failed load: that is expected
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.console_errors.append(message.text)

    def goto(self, path: str):
        return self.page.goto(self.base + path)

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/console/login")
        self.page.fill("#f-username", username)
        self.page.fill("#f-password", password)
        self.page.click("button.primary")
        self.page.wait_for_load_state()

    def language(self, code: str) -> None:
        self.page.click(f'form.langs button[value="{code}"]')
        self.page.wait_for_load_state()

    def shot(self, name: str, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def offsite(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.base) or u.startswith(("data:", "blob:")))]


@pytest.fixture
def console(browser, console_live):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15000)
    c = Console(page, console_live.url)
    c.live = console_live
    yield c
    context.close()
    assert not c.offsite(), f"requests left 127.0.0.1: {c.offsite()}"
    # CSP violations and script errors show up as console errors
    assert not c.console_errors, c.console_errors
