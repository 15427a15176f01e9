"""A real browser for the dashboard tests: Playwright for Python driving Debian's chromium
(`make chromium`; Playwright's own browser download is never used)."""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = os.environ.get("SKYTUNE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "dashboard"


def chromium_path() -> str | None:
    return CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")


@dataclass
class Problems:
    """Console errors, page errors and failed requests; a test that expects one takes it out."""
    items: list[str] = field(default_factory=list)
    responses: list = field(default_factory=list)  # failed responses, their bodies read when reported

    def report(self) -> list[str]:
        bodies = []
        for response in self.responses:
            try:
                bodies.append(f"{response.status} {response.url}: {response.text()[:300]}")
            except Exception as error:  # noqa: BLE001 - the page may be gone
                bodies.append(f"{response.status} {response.url}: ({error})")
        return self.items + bodies if self.items else []

    def take(self, needle: str) -> list[str]:
        """Remove (and return) the problems a test expects, e.g. the 400 of a filter it broke on purpose."""
        taken = [p for p in self.items if needle in p]
        self.items = [p for p in self.items if needle not in p]
        self.responses = [r for r in self.responses if needle not in f"response {r.status}: {r.request.method} {r.url}"]
        return taken


def settle(page) -> None:
    """Wait until the app has no API request in flight (its busy indicator is hidden)."""
    page.wait_for_function("document.querySelector('#busy') && document.querySelector('#busy').hidden")


def watch(page) -> Problems:
    problems = Problems()
    page.on("console", lambda m: problems.items.append(f"console {m.type}: {m.text} {m.location}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.items.append(f"pageerror: {e}"))
    # a request the page itself cancelled by navigating away (ERR_ABORTED) is not a failure
    page.on("requestfailed", lambda r: problems.items.append(f"requestfailed: {r.method} {r.url} {r.failure}")
            if not r.url.startswith("blob:") and "ERR_ABORTED" not in (r.failure or "") else None)
    def on_response(response) -> None:
        if response.status >= 400:
            problems.items.append(f"response {response.status}: {response.request.method} {response.url}")
            problems.responses.append(response)

    page.on("response", on_response)
    return problems


def option(page, selector: str) -> dict:
    """The ECharts option of the chart in `selector`, as the chart instance holds it."""
    text = page.evaluate("""sel => { const el = document.querySelector(sel); const c = el && window.echarts && echarts.getInstanceByDom(el);
        return c ? JSON.stringify(c.getOption()) : null; }""", selector)
    assert text is not None, f"no chart in {selector}"
    return json.loads(text)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
