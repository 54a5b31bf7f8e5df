"""``cockpit serve``: the cockpit in a browser, through textual-serve.

Each browser tab (each websocket) gets its own cockpit process: a session picker, then the
cockpit attached to a running session (answers go through the journal, ``by`` naming the
browser) or a replay of a finished one. Closing the tab ends that process and nothing else: the
session belongs to its owner.

Everything is served under ``/<token>/``, a random token printed in the URL; any other path,
the websocket included, gets 403. The websocket must also come from the page's own origin, so
another site open in the same browser cannot drive it; the page sends no Referer (the token is in
its URL) and loads nothing from elsewhere.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_host(host: str) -> str:
    """The host to print in the URL: a wildcard bind is reached by this machine's name."""
    if host in ("0.0.0.0", "::", ""):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


class CockpitServer(Server):
    """textual-serve's server, behind a token, starting one cockpit per browser connection."""

    def __init__(
        self,
        journal_path: Path,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        read_only: bool = False,
        token: str | None = None,
    ) -> None:
        self.journal_path = journal_path
        self.read_only = read_only
        self.token = token or secrets.token_urlsafe(24)
        super().__init__(
            command=self.app_command("browser"),
            host=host,
            port=port,
            title="cockpit",
            public_url=f"http://{public_host(host)}:{port}",
        )
        self.connections = 0

    @property
    def url(self) -> str:
        return f"{self.public_url}/{self.token}/"

    def app_command(self, by: str) -> str:
        argv = [sys.executable, "-m", "cockpit", "web-app", "--journal", str(self.journal_path)]
        argv += ["--by", by] + (["--read-only"] if self.read_only else [])
        return shlex.join(argv)

    # --- the token -----------------------------------------------------------------------------

    def _token_ok(self, request: web.Request) -> bool:
        first = request.path.lstrip("/").split("/", 1)[0]
        return hmac.compare_digest(first.encode(), self.token.encode())

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._token_ok(request):
            raise web.HTTPForbidden(text="403: this cockpit needs the URL with its token\n")
        origin = request.headers.get("Origin")
        if request.path.endswith("/ws") and origin and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="403: the cockpit's websocket takes only its own page\n")
        response = await handler(request)
        if not response.prepared:  # a websocket has sent its headers already
            # The token is in the URL: no Referer carries it away, and the page loads nothing
            # from elsewhere (textual-serve's page links a web font; the browser keeps its own).
            response.headers["Referrer-Policy"] = "no-referrer"
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                f"img-src 'self' data:; font-src 'self'; connect-src 'self' ws://{request.host}; "
                "frame-ancestors 'none'"
            )
        return response

    async def _make_app(self) -> web.Application:
        """textual-serve's routes (its page, static files, downloads), under ``/<token>/``."""
        inner = web.Application()
        aiohttp_jinja2.setup(inner, loader=jinja2.FileSystemLoader(self.templates_path))
        inner.add_routes(
            [
                web.get("/", self.handle_index, name="index"),
                web.get("/ws", self.handle_cockpit_websocket, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", self.statics_path, name="static"),
            ]
        )
        root = web.Application(middlewares=[self.guard])
        root.add_subapp(f"/{self.token}/", inner)
        return root

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints its logo; the CLI prints the URL instead."""

    async def handle_cockpit_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's websocket handler, with ``--by browser:ADDRESS#N`` for the cockpit."""
        self.connections += 1
        peer = request.remote or "unknown"
        by = f"browser:{peer}#{self.connections}"
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        service: AppService | None = None

        async def close() -> None:
            await websocket.close()

        try:
            await websocket.prepare(request)
            service = AppService(
                self.app_command(by),
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            await service.start(width, height)
            await self._process_messages(websocket, service)
        finally:
            if service is not None:
                await service.stop()  # the cockpit process quits; the session goes on
        return websocket
