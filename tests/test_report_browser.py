"""The report page in a real browser: headless Chromium loads it offline, logs no console error or exception,
renders every expected plot, and a screenshot is saved in the test's tmp dir.

Chromium is driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``: JSON messages separated by
NUL bytes on fds 3 and 4), so the test needs nothing beyond the standard library and the ``chromium`` package.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from accelsim.cli import main
from accelsim.report.page import FIGURE_IDS

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless browser test needs Chromium: apt-get install -y chromium (Debian)"
)


class DevTools:
    """Minimal DevTools-protocol client over Chromium's pipe transport."""

    def __init__(self, profile: Path) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds() -> None:  # in the child: put the pipe ends on fds 3 (commands in) and 4 (replies out)
            a = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 100)
            b = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 100)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", "--no-first-run", "--disable-extensions", "--disable-background-networking",
                f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"]
        # close_fds=False keeps the fds 3 and 4 made in wire_fds; Python opens every other fd close-on-exec.
        self.proc = subprocess.Popen(args, preexec_fn=wire_fds, close_fds=False, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read_message(deadline)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def console_problems(events: list[dict]) -> list[str]:
    out = []
    for ev in events:
        method, p = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"exception: {d.get('text')} {d.get('exception', {}).get('description', '')}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.error: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"log: {p['entry'].get('text')} ({p['entry'].get('url', '')})")
    return out


def test_report_renders_in_headless_chromium(real_sweep, tmp_path):
    page = tmp_path / "report.html"
    assert main(["report", str(real_sweep), "-o", str(page)]) == 0
    assert "cdn.plot.ly" not in page.read_text()[:2000]  # self-contained: plotly.js inlined, no CDN
    tools = DevTools(tmp_path / "profile")
    try:
        target = tools.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = tools.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            tools.send(f"{domain}.enable", session=session)
        tools.send("Page.navigate", {"url": page.as_uri()}, session=session)
        tools.wait_event("Page.loadEventFired", timeout=90)
        probe = """JSON.stringify(Array.from(document.querySelectorAll('div.js-plotly-plot')).map(d => ({
            id: d.id, svg: d.querySelectorAll('svg.main-svg').length, traces: (d.data || []).length})))"""
        deadline, plots = time.monotonic() + 60, []
        while time.monotonic() < deadline:  # plotly renders right after load; allow a slow machine a moment
            value = tools.send("Runtime.evaluate", {"expression": probe, "returnByValue": True}, session=session)
            plots = json.loads(value["result"]["value"])
            if {p["id"] for p in plots if p["svg"]} >= set(FIGURE_IDS):
                break
            time.sleep(0.5)
        shot = tools.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session)
        (tmp_path / "report.png").write_bytes(base64.b64decode(shot["data"]))
        tools.send("Runtime.evaluate", {"expression": "1"}, session=session)  # flush pending console events
    finally:
        tools.close()
    rendered = {p["id"]: p for p in plots}
    assert set(FIGURE_IDS) <= set(rendered), f"missing plots: {set(FIGURE_IDS) - set(rendered)}"
    assert all(rendered[i]["svg"] > 0 and rendered[i]["traces"] > 0 for i in FIGURE_IDS), rendered
    assert console_problems(tools.events) == []
    png = (tmp_path / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    print(f"screenshot: {tmp_path / 'report.png'}")
