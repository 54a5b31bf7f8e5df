"""A small HTTP/1.1 server on asyncio for the protocol simulators.

Why not a framework: the simulators must control the wire exactly (chunked streaming, a dropped
connection mid-stream, a stall before the headers) and the package should not carry a web
framework as a runtime dependency for the demo. Requests are kept in ``server.log`` so tests can
check what a client really sent (e.g. that no diff ever reached the composer).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024

REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Site Overloaded",
}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    received_at: float = field(default_factory=time.time)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        hdrs = {"content-type": "application/json"}
        hdrs.update(headers or {})
        return cls(status, json.dumps(data).encode(), hdrs)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, text.encode(), {"content-type": content_type})


@dataclass
class StreamResponse:
    """A response whose body is sent with chunked transfer encoding as ``chunks`` yields."""

    chunks: AsyncIterator[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class DropConnection(Exception):
    """Raised by a handler or a chunk iterator: abort the TCP connection with no more bytes."""


Handler = Callable[[Request], Awaitable[Response | StreamResponse]]


class HttpServer:
    """Serve ``handler`` on 127.0.0.1 at an OS-chosen port (or ``port``)."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1", port: int = 0) -> None:
        self.handler = handler
        self.host = host
        self._port = port
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.log: list[Request] = []

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        sock = self._server.sockets[0]
        return int(sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> HttpServer:
        self._server = await asyncio.start_server(self._serve, self.host, self._port)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            for task in list(self._connections):
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> HttpServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                self.log.append(request)
                try:
                    response = await self.handler(request)
                except DropConnection:
                    writer.transport.abort()
                    return
                except Exception as exc:  # a handler bug must show as a 500, not a hang
                    response = Response.json({"error": f"simulator error: {exc!r}"}, status=500)
                keep_alive = request.headers.get("connection", "").lower() != "close"
                if not await _write_response(writer, response, keep_alive, request.method == "HEAD"):
                    return
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, _BadRequest):
            pass
        except asyncio.CancelledError:
            # Closing the server cancels its connections. Swallowed on purpose: asyncio's
            # stream protocol calls task.exception() on a finished connection task, which
            # would re-raise a CancelledError into the loop's exception handler.
            writer.transport.abort()
        finally:
            self._connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()


class _BadRequest(Exception):
    pass


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise _BadRequest("truncated request head") from exc
    except asyncio.LimitOverrunError as exc:
        raise _BadRequest("request head too large") from exc
    if len(head) > MAX_HEADER_BYTES:
        raise _BadRequest("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError as exc:
        raise _BadRequest(f"bad request line {lines[0]!r}") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        length = int(headers.get("content-length", "0") or 0)
        if length > MAX_BODY_BYTES:
            raise _BadRequest("body too large")
        body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    return Request(method.upper(), parts.path, parse_qs(parts.query), headers, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            # trailers, then the blank line
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(out)
        out += await reader.readexactly(size)
        await reader.readexactly(2)
        if len(out) > MAX_BODY_BYTES:
            raise _BadRequest("body too large")


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _write_response(
    writer: asyncio.StreamWriter,
    response: Response | StreamResponse,
    keep_alive: bool,
    head_only: bool = False,
) -> bool:
    """Write one response; False when the connection was dropped on purpose."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    headers.setdefault("date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()))
    if not keep_alive:
        headers["connection"] = "close"
    if isinstance(response, Response):
        headers["content-length"] = str(len(response.body))
        body = b"" if head_only else response.body
        writer.write(_head(response.status, headers) + body)
        await writer.drain()
        return True
    headers["transfer-encoding"] = "chunked"
    headers.pop("content-length", None)
    writer.write(_head(response.status, headers))
    await writer.drain()
    try:
        async for chunk in response.chunks:
            if chunk:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
    except DropConnection:
        writer.transport.abort()
        return False
    finally:
        # A client that leaves mid-stream must end the generator now (its finally blocks
        # record how the call ended), not whenever the garbage collector gets to it.
        aclose = getattr(response.chunks, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


class SimServer:
    """What every simulator shares: its ``server``, started and closed with it (``async with``)."""

    server: HttpServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> list[Request]:
        return self.server.log

    async def start(self) -> Self:
        await self.server.start()
        return self

    async def close(self) -> None:
        await self.server.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve_until_signalled(
    sim: SimServer, first_line: Callable[[], str] | None = None, *notes: str
) -> None:
    """Run ``sim`` standalone: print its URL (or ``first_line()``) and ``notes``, serve until
    SIGINT or SIGTERM, then close it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the URL is out: a caller may signal at once
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await sim.start()
    try:
        print(first_line() if first_line is not None else sim.url, flush=True)
        for note in notes:
            print(note, flush=True)
        await stop.wait()
    finally:
        await sim.close()


def sse(name: str, data: Any) -> bytes:
    """One server-sent event: its name and one JSON data line."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def chunks(text: str, size: int) -> list[str]:
    """``text`` in pieces of ``size`` characters (at least 1), as a stream delivers it."""
    size = max(1, size)
    return [text[i : i + size] for i in range(0, len(text), size)]


async def stall(seconds: float | None) -> None:
    """Send nothing for ``seconds``; None: until the server closes (which cancels the connection)."""
    if seconds is None:
        await asyncio.Event().wait()
    else:
        await asyncio.sleep(seconds)


class ServerThread:
    """Run servers on a private event loop in a daemon thread.

    The demo uses this so the simulators never compete with the UI's event loop, and so a
    subprocess (the real Codex CLI) can reach them while the caller's loop is busy.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="cockpit-sim", daemon=True)
        self._started = threading.Event()
        self._servers: list[HttpServer] = []

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._started.set()
        self._loop.run_forever()

    def start(self) -> ServerThread:
        self._thread.start()
        self._started.wait()
        return self

    def serve(self, server: HttpServer) -> HttpServer:
        """Start ``server`` on the thread's loop and return it once it listens."""
        fut = asyncio.run_coroutine_threadsafe(server.start(), self._loop)
        fut.result(timeout=10)
        self._servers.append(server)
        return server

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run a plain function on the server loop (to change a simulator's script safely)."""

        async def _call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(_call(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def _close_all() -> None:
            for server in self._servers:
                await server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(_close_all(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
