"""Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``:
JSON messages ending in a NUL byte, commands on the browser's fd 3, replies on its fd 4), so
a test or a script can open a report, run JavaScript in it (click, type, read the DOM),
collect console messages and take screenshots, with nothing but the standard library.

    with Browser() as browser:
        page = browser.open(Path("runs/demo/report.html"))
        page.evaluate("document.title")
        page.screenshot(Path("first-screen.png"))
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from derm_stress.errors import DermStressError

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


class BrowserError(DermStressError):
    """The browser could not be started, or did not answer in time."""


def find_chromium() -> str | None:
    """The first headless-capable Chromium on the PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


class Page:
    """One tab, attached with a flat session."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return self.browser.send(method, session=self.session, **params)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); a thrown exception
        raises ``BrowserError`` with its text."""
        reply = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return reply.get("result", {}).get("value")

    def screenshot(self, path: Path, full_page: bool = False) -> Path:
        """A PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    @property
    def console(self) -> list[str]:
        """Console messages and uncaught exceptions of this page so far."""
        return self.browser.console.get(self.session, [])


class Browser:
    """A headless Chromium process (a fresh profile), closed on exit."""

    def __init__(
        self,
        executable: str | None = None,
        width: int = 1280,
        height: int = 1000,
        timeout: float = 60.0,
    ) -> None:
        executable = executable or find_chromium()
        if executable is None:
            raise BrowserError("no chromium on PATH (apt-get install -y chromium)")
        self.width, self.height, self.timeout = width, height, timeout
        self._profile = tempfile.TemporaryDirectory(prefix="derm-stress-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the browser reads commands on fd 3 and writes replies on fd 4: bash puts the pipe
        # ends there (copied above 9 first, so no redirection overwrites the other; dash
        # cannot redirect fds above 9)
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        to_browser_r, from_browser_w = high
        args = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--hide-scrollbars", "--remote-debugging-pipe",
            f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}",
            "about:blank",
        ]  # fmt: skip
        log = os.environ.get("DERM_STRESS_BROWSER_LOG", os.devnull)
        with open(log, "ab") as stderr:
            self.process = subprocess.Popen(
                [shutil.which("bash") or "/bin/bash", "-c",
                 f'exec "$0" "$@" 3<&{to_browser_r} 4>&{from_browser_w}',
                 executable, *args],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                pass_fds=(to_browser_r, from_browser_w),
            )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0
        self.console: dict[str, list[str]] = {}
        self.seen: set[tuple[str, str]] = set()  # (session, event) pairs received

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrowserError, OSError):
                self.send("Browser.close")
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._profile.cleanup()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError(f"chromium did not answer within {self.timeout:.0f} s")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError("chromium closed its DevTools pipe (it exited)")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def _event(self, message: dict[str, Any]) -> None:
        session = message.get("sessionId", "")
        params = message.get("params", {})
        self.seen.add((session, str(message.get("method"))))
        if message.get("method") == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.setdefault(session, []).append(f"{params.get('type')}: {text}")
        elif message.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text")
            self.console.setdefault(session, []).append(f"exception: {text}")

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its reply (events on the way are recorded)."""
        self._next += 1
        command: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        os.write(self._to_browser, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def open(self, page: Path | str) -> Page:
        """Open a file (or URL) in a new tab and wait until it has loaded."""
        url = page.resolve().as_uri() if isinstance(page, Path) else page
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        tab = Page(self, session)
        tab.send("Runtime.enable")
        tab.send("Page.enable")
        tab.send(
            "Emulation.setDeviceMetricsOverride",
            width=self.width, height=self.height, deviceScaleFactor=1, mobile=False,
        )  # fmt: skip
        tab.send("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while (session, "Page.loadEventFired") not in self.seen:
            self._event(self._message(deadline))
        return tab
