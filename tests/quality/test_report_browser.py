"""The internal report in a real browser: headless Debian chromium opens report.html of a real release
(health_insurance.csv) and the test checks that the page renders with no console error and no request
leaving the file, then saves screenshots (PNG) in the test's tmp folder.

Why the DevTools protocol (over a websocket, `websocket-client`) rather than `--dump-dom` and logs:
it reports each request the page makes (Network.requestWillBeSent, with its URL) and each console
message and exception as structured events, so "no request left the file" and "no console error" are
checked directly (the report must make no request at all besides the file itself, so even a request
its CSP would block counts), and it takes the screenshots at a fixed viewport. The page's own CSP
meta tag (`default-src 'none'`) blocks any outside fetch as well; the guard test below shows that this
harness sees an outside request (page without the CSP) and a CSP block (page with it).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
DATASETS = REPO.parent / "shared" / "datasets"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent: apt-get install -y chromium "
                                                      "(.ci/run installs it)"),
]


class Browser:
    """One headless chromium, driven over the DevTools protocol; every event is kept in `events`."""

    def __init__(self, profile: Path) -> None:
        websocket = pytest.importorskip("websocket", reason="websocket-client is a test dependency")
        self.process = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-allow-origins=*",
             "--hide-scrollbars", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                pytest.fail("chromium did not start its DevTools endpoint within 30 s")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        page = next(t for t in targets if t.get("type") == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self._id = 0
        for method in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
            self.send(method)
        self.send("Emulation.setDeviceMetricsOverride", width=1366, height=900, deviceScaleFactor=1, mobile=False)

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))
            self.events.append(message)

    def open(self, url: str, *, settle: float = 1.0) -> None:
        """Navigate and wait for the load event, then `settle` seconds more for late messages."""
        self.events.clear()
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + 30
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            assert time.monotonic() < deadline, "the page did not finish loading within 30 s"
            self.events.append(json.loads(self.socket.recv()))
        self.socket.settimeout(settle)
        try:
            while True:
                self.events.append(json.loads(self.socket.recv()))
        except Exception:  # noqa: BLE001 - websocket's timeout: nothing more arrived
            pass
        self.socket.settimeout(30)

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def blocked(self) -> list[str]:
        """Reasons of the requests the browser refused to send (e.g. "csp")."""
        return [str(e["params"].get("blockedReason")) for e in self.events
                if e.get("method") == "Network.loadingFailed" and e["params"].get("blockedReason")]

    def console_errors(self) -> list[str]:
        errors = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                errors.append(str(params.get("exceptionDetails", {}).get("text")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                errors.append(str(params["entry"].get("text")))
        return errors

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **params)["data"]))
        return path

    def evaluate(self, expression: str) -> Any:
        return self.send("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def close(self) -> None:
        if getattr(self, "socket", None) is not None:
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    session = Browser(tmp_path / "profile")
    yield session
    session.close()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


@pytest.fixture(scope="module")
def health_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real release of health_insurance.csv with the shipped config, its gate thresholds at the largest a
    figure can take: every DP check measured and shown in the report, none can hold, so it is released."""
    if not (DATASETS / "health_insurance.csv").exists():
        pytest.skip(f"{DATASETS / 'health_insurance.csv'} is absent")
    from services.cli import run_release
    from services.configs import GATE_PASSES, HEALTH_INSURANCE, shipped_config
    from synthgate.pipeline.errors import EXIT_RELEASED

    root = tmp_path_factory.mktemp("browser-run")
    config = shipped_config("health_insurance", root, source={"path": str(HEALTH_INSURANCE)}, gate=GATE_PASSES,
                            sample_rows=5000)
    with pytest.MonkeyPatch.context() as patch:  # conftest's per-test ledger is not set up for module fixtures
        patch.setenv("SYNTHGATE_LEDGER", str(root / "ledger.sqlite"))
        code = run_release(config, root / "run", "--seed", "1")
    assert code == EXIT_RELEASED
    return root / "run" / "internal" / "report.html"


def test_report_renders_with_no_console_error_and_no_request_leaving_the_file(
        browser: Browser, health_report: Path, tmp_path: Path) -> None:
    url = health_report.resolve().as_uri()
    browser.open(url)
    assert browser.console_errors() == []
    assert [u for u in browser.requests() if u != url and not u.startswith("data:")] == []
    # It rendered: the decision, the privacy story and plots are on the first screen (1366 x 900).
    first_screen = browser.evaluate(
        "Array.from(document.querySelectorAll('.decision, .story, svg'))"
        ".filter(e => { const r = e.getBoundingClientRect(); return r.top < 900 && r.height > 0; })"
        ".map(e => e.tagName === 'svg' ? 'svg' : e.className)")
    assert "decision RELEASE" in first_screen or "decision HOLD" in first_screen
    assert "card story" in first_screen and first_screen.count("svg") >= 3
    assert browser.evaluate("document.querySelectorAll('svg').length") >= 11 + 3
    shot = browser.screenshot(tmp_path / "report-first-screen.png")
    full = browser.screenshot(tmp_path / "report-full-page.png", full_page=True)
    for path in (shot, full):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    print(f"screenshots: {shot} {full}")


def test_the_harness_sees_an_outside_request_and_a_csp_block(browser: Browser, tmp_path: Path) -> None:
    """Guards the test above: it would pass vacuously if requests and console errors went unseen.
    The outside address is the local discard port, so nothing leaves the machine."""
    outside = "http://127.0.0.1:9/pixel.png"
    bare = tmp_path / "bare.html"
    bare.write_text(f'<!doctype html><img src="{outside}">', encoding="utf-8")
    browser.open(bare.resolve().as_uri())
    assert outside in browser.requests() and browser.blocked() == []

    guarded = tmp_path / "guarded.html"
    guarded.write_text('<!doctype html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
                       f'style-src \'unsafe-inline\'; img-src data:"><img src="{outside}">', encoding="utf-8")
    browser.open(guarded.resolve().as_uri())
    assert outside in browser.requests() and browser.blocked() == ["csp"]  # seen, and refused before sending
    assert any("Content Security Policy" in e for e in browser.console_errors())
