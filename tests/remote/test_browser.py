"""Issue 13: the cockpit in a real browser (Debian's chromium driven by Playwright).

The browser opens the URL ``cockpit serve`` prints, picks the live session, sees the three panes
and answers a gate with ``a``; the owner (another process) journals the answer with ``by``
naming the browser. Without the token, the page and the websocket get 403. Closing the browser
leaves the session running. No browser is downloaded: chromium comes from apt.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from cockpit.events import SessionFinished
from tests.support.remote import Owner, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

try:
    from playwright.sync_api import Page, sync_playwright
except ImportError:  # pragma: no cover - reported by the skip below
    sync_playwright = None  # type: ignore[assignment]

_missing = [
    what
    for what, there in (
        ("chromium (apt-get install chromium)", os.path.exists(CHROMIUM)),
        ("playwright (pip install playwright)", sync_playwright is not None),
    )
    if not there
]
if _missing:
    print(f"\n*** SKIPPING the browser tests: {' and '.join(_missing)} not installed ***", file=sys.stderr)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(bool(_missing), reason=f"not installed: {', '.join(_missing)} (CI installs them)"),
]

# Everything the page receives on its websocket is kept, so the test reads what the browser drew
# (xterm.js paints on a canvas: there is no text in the DOM to read).
RECORD_WEBSOCKET = """
(() => {
  window.__cockpit = [];
  const Native = window.WebSocket;
  window.WebSocket = function (url, protocols) {
    const ws = new Native(url, protocols);
    const decoder = new TextDecoder();
    ws.addEventListener("message", (e) => {
      if (typeof e.data !== "string") window.__cockpit.push(decoder.decode(e.data, {stream: true}));
    });
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
})();
"""
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78])")


def screen_text(page: Page) -> str:
    """What the page was sent since the last call, escape sequences removed."""
    chunks: list[str] = page.evaluate("window.__cockpit.splice(0)")
    return _ESCAPES.sub("", "".join(chunks))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(owner: Owner, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cockpit", "serve", "--port", str(port), "--journal", str(owner.journal_path)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "serve.log").open("w"),
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = ""
        for line in proc.stdout:
            if line.startswith("open "):
                url = line.split()[1]
                break
        assert url.startswith(f"http://127.0.0.1:{port}/"), (tmp_path / "serve.log").read_text()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def status_of(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_browser_answers_a_gate_through_the_journal(owner: Owner, served: str, tmp_path: Path) -> None:
    gate = owner.wait_gate()
    assert sync_playwright is not None
    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            tmp_path / "chromium",  # a fresh profile
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = browser.new_page()
            page.add_init_script(RECORD_WEBSOCKET)
            answered: list[str] = []  # what got a response; a foreign request is blocked before it goes
            blocked: list[tuple[str, str | None]] = []
            page.on("response", lambda r: answered.append(r.url))
            page.on("requestfailed", lambda r: blocked.append((r.url, r.failure)))
            response = page.goto(served)
            assert response is not None and response.status == 200
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "default-src 'self'" in response.headers["content-security-policy"]
            seen = ""

            def sees(*words: str) -> bool:
                nonlocal seen
                seen += screen_text(page)
                return all(w in seen for w in words)

            wait_for("the session picker", lambda: sees("pick a session", owner.row.id))
            page.focus(".xterm-helper-textarea")  # where xterm.js takes the keyboard
            page.keyboard.press("Enter")
            wait_for("the owner's pid", lambda: sees(f"attached to pid {owner.proc.pid}"))
            wait_for("the gate on the banner", lambda: sees("approve"))
            # Textual sends only what changed: a resize makes it send the whole screen again.
            seen = screen_text(page) and ""
            page.set_viewport_size({"width": 1300, "height": 860})
            wait_for("the three panes", lambda: sees("Writer", "Reviewers", "Composer", "approve"))
            shot = os.environ.get("COCKPIT_BROWSER_SCREENSHOT")
            if shot:  # the README's picture: COCKPIT_BROWSER_SCREENSHOT=$PWD/screenshots/cockpit-browser.png
                page.screenshot(path=shot)
            page.keyboard.press("a")
            decision = wait_for("the owner to journal the answer", lambda: owner.decisions(gate.gate))[0]
            assert decision.answer == "approve"
            assert decision.by.startswith("browser:127.0.0.1#"), decision.by
            with owner.journal() as j:
                (req,) = [r for r in j.session_requests(owner.row.id) if r.gate == gate.gate]
            assert (req.status, req.by) == ("applied", decision.by)

            origin = served.rsplit("/", 2)[0]
            assert answered and all(u.startswith(origin + "/") for u in answered), answered
            foreign = [(u, why) for u, why in blocked if not u.startswith(origin + "/")]
            assert all("csp" in (why or "").lower() for _, why in foreign), foreign

            # Without the token: 403 for the page, for the websocket, and in the browser too.
            root = served.rsplit("/", 2)[0] + "/"
            assert status_of(root) == 403
            upgrade = {
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            }
            assert status_of(root + "ws", upgrade) == 403
            assert status_of(served + "ws", {**upgrade, "Origin": "http://evil.example"}) == 403
            other = browser.new_page()
            refused = other.goto(root)
            assert refused is not None and refused.status == 403
        except BaseException:
            page.screenshot(path=str(tmp_path / "failed.png"))
            raise
        finally:
            browser.close()

    # The browser is gone; the session is not: it still runs, and its next gate still opens.
    assert owner.running() and not owner.events(SessionFinished)
    owner.wait_gate(not_in={gate.gate})


def test_read_only_refuses_answers(owner: Owner) -> None:
    """``--read-only`` reaches every browser's cockpit: an answer is refused before any request."""
    import asyncio

    from cockpit.engine.gates import GateAnswer, GateError
    from cockpit.tui.attach import WebCockpitApp

    gate = owner.wait_gate()

    async def go() -> None:
        app = WebCockpitApp(owner.journal_path, by="browser:test", read_only=True)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(100):
                if len(app.screen_stack) > 1:
                    break
                await pilot.pause(0.05)
            await pilot.press("enter")
            for _ in range(600):
                if app.target_gate() is not None:
                    break
                await pilot.pause(0.1)
            assert app.controls is not None
            with pytest.raises(GateError, match="read-only"):
                app.controls.answer(gate.gate, GateAnswer("approve"))
            assert "read-only" in app.header_note()

    asyncio.run(go())
    with owner.journal() as j:
        assert j.session_requests(owner.row.id) == []
    assert not owner.decisions(gate.gate)


def test_only_loopback_hosts_serve_without_a_warning() -> None:
    from cockpit.tui.serve import is_loopback, public_host

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("example.org")
    assert public_host("::1") == "[::1]" and public_host("0.0.0.0") == socket.gethostname()
