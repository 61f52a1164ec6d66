"""Browser tests: Playwright (sync API) driving Debian's Chromium against the real server on 127.0.0.1.

Every request a page makes is recorded; a test fails if anything leaves 127.0.0.1 (the console must work on an
office network without internet). Screenshots of the main pages go to tests/screenshots/ (gitignored); the
path is printed at the end of the run.

axe-core (from the npm registry, installed under tests/browser/node_modules by .ci/run, or here when missing) is
injected into every page before its own scripts; `Console.axe()` runs it and returns the serious and critical
violations, which the tests require to be none.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # the tests folder: conftest helpers and support modules

from test_console_support import PASSWORD, add_accounts  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent.parent / "screenshots"
AXE_HOME = Path(__file__).parent
AXE = AXE_HOME / "node_modules" / "axe-core" / "axe.min.js"
# the same command .ci/run runs
AXE_INSTALL = ["npm", "install", "--silent", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
               "--prefix", str(AXE_HOME), "axe-core@4"]
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                      nodes: v.nodes.slice(0, 5).map(n => n.target.join(" "))}));
}"""


def axe_script() -> Path:
    if AXE.exists():
        return AXE
    folder = os.open(AXE_HOME, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)  # pytest-xdist workers: one installs, the others wait for it
        if not AXE.exists():
            if not shutil.which("npm"):
                pytest.fail("npm is not installed: .ci/run installs it (apt-get install npm), then axe-core")
            subprocess.run(AXE_INSTALL, check=True, timeout=600)
    finally:
        os.close(folder)  # and with it the lock
    return AXE


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

    def axe(self) -> list[dict]:
        """axe-core's serious and critical violations on the page as it is now."""
        found = self.page.evaluate(AXE_RUN)
        return [v for v in found if v["impact"] in ("serious", "critical")]

    def offsite(self) -> list[str]:
        return [u for u in self.requests if not (u.startswith(self.base) or u.startswith(("data:", "blob:")))]


@pytest.fixture
def console(browser, console_live):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 860})
    context.add_init_script(path=str(axe_script()))
    page = context.new_page()
    page.set_default_timeout(15000)
    c = Console(page, console_live.url)
    c.live = console_live
    yield c
    context.close()
    assert not c.offsite(), f"requests left 127.0.0.1: {c.offsite()}"
    # CSP violations and script errors show up as console errors
    assert not c.console_errors, c.console_errors


@pytest.fixture
def open_page(browser):
    """open_page(base_url, locale) -> a Console on another server (the CSO desk), with axe-core injected; at the end
    the same checks as the console's: nothing left 127.0.0.1, no script or CSP error."""
    opened = []

    def make(base: str, locale: str = "en-GB") -> Console:
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 860})
        context.add_init_script(path=str(axe_script()))
        page = context.new_page()
        page.set_default_timeout(15000)
        opened.append((context, Console(page, base)))
        return opened[-1][1]
    yield make
    for context, c in opened:
        context.close()
        assert not c.offsite(), f"requests left 127.0.0.1: {c.offsite()}"
        assert not c.console_errors, c.console_errors


def page_shot(c: Console, lang: str, name: str) -> None:
    folder = SCREENSHOTS / "pages" / lang
    folder.mkdir(parents=True, exist_ok=True)
    c.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.fixture
def axe_check():
    """axe_check(console, lang, name, problems): axe on the page as loaded, then its screenshot."""
    def check(c: Console, lang: str, name: str, problems: list) -> None:
        assert c.page.get_attribute("html", "lang") == lang, (name, lang)
        for v in c.axe():
            problems.append(f"{lang} {name}: {v['impact']} {v['id']} ({v['help']}) at {v['nodes']}")
        page_shot(c, lang, name)
    return check


@pytest.fixture
def axe_path():
    return axe_script()
