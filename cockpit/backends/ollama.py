"""The ollama reviewer: one streamed ``/api/chat`` call per review, through the official client.

Why the adapter sets its own timeouts: the client waits forever by default and never retries,
so a stalled model would hold a reviewer slot for good. ``stall_s`` bounds the silence between
two reads (a model still loading counts as silence, so it must not be tiny); ``timeout_s``
bounds the whole review. Failures become ``DispatchError`` with a hint a human can act on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import ollama
import pydantic

from cockpit.backends.base import DispatchError, Output, OutputSink, ReviewJob, ReviewResult
from cockpit.events import Usage
from cockpit.tokens import estimate_tokens

DEFAULT_HOST = "http://127.0.0.1:11434"
CONNECT_TIMEOUT_S = 10.0
MIN_SCHEMA_VERSION = (0, 5, 0)  # structured outputs (a JSON schema as ``format``) arrived in 0.5.0


def default_host() -> str:
    return os.environ.get("OLLAMA_HOST") or DEFAULT_HOST


def base_url(host: str) -> str:
    """The URL the client connects to, for messages: ``host:port`` forms as ollama reads them."""
    host = host.strip().rstrip("/") or DEFAULT_HOST
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "http", host
    hostport, slash, path = rest.partition("/")
    has_port = re.search(r":\d*$", hostport) is not None and not hostport.endswith("]")
    if not has_port:
        port = {"http": 80, "https": 443}[scheme] if sep else 11434
        hostport = f"{hostport or '127.0.0.1'}:{port}"
    elif hostport.startswith(":"):
        hostport = "127.0.0.1" + hostport
    return f"{scheme}://{hostport}{slash}{path}"


def _pull_hint(model: str) -> str:
    return f"run `ollama pull {model}` on the ollama host, or pick a model `ollama list` shows"


def _unreachable_hint(host: str) -> str:
    return f"start it with `ollama serve`, or point OLLAMA_HOST / the reviewer's host at it (now {host})"


class _Begun:
    """Whether the answer's stream had begun (a chunk arrived) when a call failed."""

    streaming = False


class OllamaReviewer:
    """A reviewer backed by a model on an ollama server."""

    backend = "ollama"

    def __init__(
        self,
        name: str,
        framing: str,
        model: str,
        *,
        host: str | None = None,
        timeout_s: float = 600.0,
        stall_s: float | None = None,
        options: dict[str, Any] | None = None,
        think: bool | str = False,
        keep_alive: float | str | None = None,
    ) -> None:
        self.name = name
        self.framing = framing
        self.model = model
        self.host = base_url(host or default_host())
        self.timeout_s = timeout_s
        self.stall_s = stall_s if stall_s is not None else timeout_s
        self.options = dict(options or {})
        self.think = think  # sent even when False: new servers think when it is left out
        self.keep_alive = keep_alive

    def _client(self) -> ollama.AsyncClient:
        timeout = httpx.Timeout(self.stall_s, connect=min(CONNECT_TIMEOUT_S, self.stall_s))
        return ollama.AsyncClient(host=self.host, timeout=timeout)

    async def review(self, job: ReviewJob, out: OutputSink) -> ReviewResult:
        where = f"{self.model} on {self.host}"
        begun = _Begun()
        try:
            async with asyncio.timeout(self.timeout_s):
                return await self._review(job, out, begun)
        except TimeoutError as exc:
            raise DispatchError(
                f"reviewer {self.name}: {where} did not finish within {self.timeout_s:g}s",
                hint="raise the reviewer's timeout, or use a smaller or already loaded model",
            ) from exc
        # Failures are told apart by what happened (the stream had begun or not), not by which
        # class the client release raised for it.
        except httpx.TimeoutException as exc:
            if begun.streaming:
                raise DispatchError(
                    f"reviewer {self.name}: timed out mid-answer: nothing from {where} for {self.stall_s:g}s",
                    hint="the model may be stuck; check `ollama ps` and the server log, or raise stall_s",
                ) from exc
            what = "connect to" if isinstance(exc, httpx.ConnectTimeout) else "hear from"
            raise DispatchError(
                f"reviewer {self.name}: timed out: could not {what} {where} for {self.stall_s:g}s",
                hint="the model may be stuck or still loading; check `ollama ps`, or raise stall_s",
            ) from exc
        except ollama.ResponseError as exc:
            raise self._response_error(exc) from exc
        except (ConnectionError, httpx.TransportError) as exc:
            if not begun.streaming and not isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
                raise DispatchError(
                    f"reviewer {self.name}: cannot reach ollama at {self.host}",
                    hint=_unreachable_hint(self.host),
                ) from exc
            raise DispatchError(
                f"reviewer {self.name}: the connection to {self.host} broke mid-answer: {exc}",
                hint="the ollama server may have crashed or restarted; check its log, then retry",
            ) from exc
        except (json.JSONDecodeError, pydantic.ValidationError) as exc:
            raise DispatchError(
                f"reviewer {self.name}: {self.host} sent a line that is not an ollama chat chunk: {exc}",
                hint="is OLLAMA_HOST pointing at an ollama server?",
            ) from exc

    def _response_error(self, exc: ollama.ResponseError) -> DispatchError:
        who, status, text = f"reviewer {self.name}", exc.status_code, exc.error
        if status == 404:
            return DispatchError(
                f"{who}: model {self.model} is not on {self.host}: {text}", hint=_pull_hint(self.model)
            )
        if status == 503:
            return DispatchError(
                f"{who}: ollama at {self.host} is busy: {text}",
                hint="its queue is full (OLLAMA_MAX_QUEUE); retry, or run fewer reviewers",
            )
        if status == -1:
            return DispatchError(
                f"{who}: {self.model} failed mid-answer: {text}",
                hint="the model runner failed; check the ollama server log, then retry",
            )
        if status == 400 and "thinking" in text:
            return DispatchError(f"{who}: {text}", hint="set think = false for this reviewer")
        return DispatchError(
            f"{who}: ollama at {self.host} answered {status}: {text}", hint="check the ollama server log"
        )

    async def _review(self, job: ReviewJob, out: OutputSink, begun: _Begun) -> ReviewResult:
        messages = [{"role": "system", "content": job.system}, {"role": "user", "content": job.prompt}]
        text: list[str] = []
        final: ollama.ChatResponse | None = None
        async with self._client() as client:
            stream: AsyncIterator[ollama.ChatResponse] = await client.chat(
                model=self.model,
                messages=messages,
                stream=True,
                format=job.schema or "json",
                options=self.options or None,
                think=self.think,
                keep_alive=self.keep_alive,
            )
            try:
                async for part in stream:  # the request is sent on the first read, not by chat()
                    begun.streaming = True
                    if part.message.thinking:
                        out(Output("reasoning", part.message.thinking))
                    if part.message.content:
                        text.append(part.message.content)
                        out(Output("text", part.message.content))
                    if part.done:
                        final = part
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
        if final is None:
            raise DispatchError(
                f"reviewer {self.name}: the answer from {self.model} on {self.host} stopped before the end",
                hint="the server closed the stream early; check the ollama server log, then retry",
            )
        usage = Usage(input_tokens=final.prompt_eval_count or 0, output_tokens=final.eval_count or 0)
        self._report_limits(final, usage, out, estimate_tokens(job.system) + estimate_tokens(job.prompt))
        return ReviewResult("".join(text), usage)

    def _report_limits(self, final: ollama.ChatResponse, usage: Usage, out: OutputSink, sent: int) -> None:
        """Say so when a limit cut the answer or may have cut the prompt (ollama does it silently).

        ``sent`` is an estimate of the prompt's tokens: when the server evaluated far fewer, its
        context (num_ctx, often 4096 by default) dropped the rest, typically most of the diff.
        """
        if final.done_reason == "length":
            out(
                Output(
                    "status",
                    f"the answer was cut at {usage.output_tokens} tokens (num_predict)",
                    meta={"done_reason": "length"},
                )
            )
        num_ctx = self.options.get("num_ctx")
        if usage.input_tokens and sent > 2048 and usage.input_tokens < sent // 2:
            out(
                Output(
                    "status",
                    f"ollama read {usage.input_tokens} prompt tokens of about {sent} sent: the model's "
                    "context cut the prompt (the diff, most likely); set options.num_ctx for this "
                    "reviewer in cockpit.toml, or lower [session] max_diff_bytes",
                    meta={"prompt_cut": True, "sent": sent},
                )
            )
        elif isinstance(num_ctx, int) and usage.input_tokens >= num_ctx:
            out(
                Output(
                    "status",
                    f"the prompt filled the whole context ({usage.input_tokens} of num_ctx "
                    f"{num_ctx} tokens): ollama may have cut it",
                    meta={"num_ctx": num_ctx},
                )
            )


def _version_tuple(version: str) -> tuple[int, ...] | None:
    parts = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", version.strip())
    if parts is None:
        return None
    return tuple(int(p or 0) for p in parts.groups())


async def check(host: str | None, models: Sequence[str], timeout_s: float = 5.0) -> list[str]:
    """Problems with an ollama host for ``cockpit doctor``: reachable, recent enough, models pulled."""
    url = base_url(host or default_host())
    problems: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=url, timeout=timeout_s) as http:
            resp = await http.get("/api/version")
        resp.raise_for_status()
        version = str(resp.json().get("version", ""))
    except httpx.HTTPError as exc:
        detail = str(exc) or type(exc).__name__
        return [f"ollama at {url} is not reachable ({detail}): {_unreachable_hint(url)}"]
    except (ValueError, AttributeError):
        return [f"{url} answers, but not like an ollama server (no version at /api/version)"]
    found = _version_tuple(version)
    if found is not None and found != (0, 0, 0) and found < MIN_SCHEMA_VERSION:
        problems.append(
            f"ollama at {url} is version {version}; reviewers need 0.5.0 or newer "
            "for JSON-schema answers: upgrade ollama"
        )
    async with ollama.AsyncClient(host=url, timeout=timeout_s) as client:
        for model in dict.fromkeys(models):
            try:
                await client.show(model)
            except ollama.ResponseError as exc:
                if exc.status_code == 404:
                    problems.append(f"model {model} is not on {url}: {_pull_hint(model)}")
                else:
                    problems.append(f"ollama at {url} could not show model {model}: {exc.error}")
            except (ConnectionError, httpx.HTTPError) as exc:
                problems.append(f"ollama at {url} stopped answering while checking {model}: {exc}")
                break
    return problems
