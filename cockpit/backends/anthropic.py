"""The Claude composer: one streamed Messages API call per compose, through the official SDK.

Why the adapter retries on its own: the SDK retries 408/409/429/5xx/529 and connection failures
*before* the response headers, but whatever breaks after the stream started (a mid-stream
``event: error``, a dropped connection, a read stall) reaches the caller unretried. So
``compose`` retries the whole request up to ``stream_retries`` times, with backoff, and says so.

What streams into the ``OutputSink``:
  - ``text``: the model's prose, delta by delta (the brief, a decision in sections, or prose
    around a tool call);
  - ``status`` with ``meta={"tool": name}``: the model started calling a tool;
  - ``text`` with ``meta={"tool": name}``: the tool's input JSON as it streams (the decision
    being written); it is not part of ``ComposeResult.text``;
  - ``status`` with ``meta={"retry": n}``: the stream broke and the request is being retried;
  - ``status`` with ``meta={"stop_reason": "max_tokens"}``: the answer was cut.

The stable prefix (the tool when the job has one, the system prompt, then the blocks of
``job.context``, least changing first) carries a ``cache_control`` breakpoint after the system
prompt and after each context block, so repeated calls in a session read it from Anthropic's
prompt cache, and a block that changed (the digest after a PR closed) costs only itself and what
follows.
``Usage.input_tokens`` is the whole prompt (the API's ``input_tokens`` excludes cached tokens,
so the cache counts are added back). The API key never appears in an error or output.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import replace
from typing import Any, Literal

import anthropic
import httpx2

from cockpit import secret
from cockpit.backends.base import ComposeJob, ComposeResult, DispatchError, Output, OutputSink
from cockpit.events import Usage

DEFAULT_API_KEY_ENV = "ANTHROPIC_API_KEY"
DEFAULT_BASE_URL = "https://api.anthropic.com"
SDK_BAD_TOOL_JSON = "Unable to parse tool parameter JSON"  # the SDK's ValueError for a malformed tool input
MAX_CONTEXT_BREAKPOINTS = 3  # one after each stable block of the context (goal, memory), at most
RETRYABLE_STREAM_ERRORS = frozenset({"overloaded_error", "api_error", "rate_limit_error", "timeout_error"})


class _StreamBroke(Exception):
    """An attempt that failed after the headers: worth retrying the whole request."""

    def __init__(self, reason: str, usage: Usage, *, stalled: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.usage = usage
        self.stalled = stalled


def _usage(u: anthropic.types.Usage | anthropic.types.MessageDeltaUsage) -> Usage:
    written = u.cache_creation_input_tokens or 0
    read = u.cache_read_input_tokens or 0
    return Usage(
        input_tokens=(u.input_tokens or 0) + written + read,
        output_tokens=u.output_tokens,
        cached_input_tokens=read,
        cache_write_tokens=written,
    )


def _error_detail(body: object) -> tuple[str, str]:
    """(error type, message) from an API error body, whatever shape it came in."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("type", "")), str(err.get("message", ""))
        if isinstance(body.get("message"), str):
            return str(body.get("type", "")), str(body["message"])
    return "", str(body or "")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (cycles cut)."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and all(cur is not e for e in out):
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _stalled(exc: BaseException) -> bool:
    """A read timeout, however the SDK release wrapped it."""
    return any(isinstance(e, anthropic.APITimeoutError | httpx2.TimeoutException) for e in _chain(exc))


def _transport_name(exc: BaseException) -> str:
    """The innermost transport error's class name: what actually happened on the wire."""
    inner = [e for e in _chain(exc) if isinstance(e, httpx2.TransportError)]
    return type(inner[-1] if inner else exc).__name__


class AnthropicComposer:
    """A composer backed by Claude through the Anthropic Messages API."""

    backend = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        api_key_env: str = DEFAULT_API_KEY_ENV,
        base_url: str | None = None,
        max_tokens: int = 4096,
        timeout_s: float = 300.0,
        stall_s: float | None = None,
        connect_s: float = 10.0,
        max_retries: int = 2,
        stream_retries: int = 2,
        retry_backoff_s: float = 1.0,
        cache_ttl: Literal["5m", "1h"] = "5m",
    ) -> None:
        """
        api_key: the key itself, else it is read from ``api_key_env`` at each call.
        base_url: None = the SDK's choice (``ANTHROPIC_BASE_URL``, else api.anthropic.com).
        max_tokens: a ceiling on each job's own ``max_tokens``.
        timeout_s: bounds one whole compose, retries included.
        stall_s: the longest silence tolerated inside a stream (the HTTP read timeout).
        max_retries: the SDK's retries before the headers (429, 5xx, 529, connection errors).
        stream_retries: this adapter's retries of the whole request after a broken stream.
        """
        if not model:
            raise ValueError("the composer needs a model name")
        self.model = model
        self._api_key = api_key
        self.api_key_env = api_key_env
        self.base_url = base_url
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.stall_s = stall_s if stall_s is not None else min(timeout_s, 120.0)
        self.connect_s = connect_s
        self.max_retries = max_retries
        self.stream_retries = stream_retries
        self.retry_backoff_s = retry_backoff_s
        self.cache_control: dict[str, str] = {"type": "ephemeral"}
        if cache_ttl == "1h":
            self.cache_control["ttl"] = "1h"

    def __repr__(self) -> str:  # no key, ever
        return f"AnthropicComposer(model={self.model!r}, base_url={self.where!r})"

    # --- settings ------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The base URL requests go to, for messages."""
        return self.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL

    def _key_source(self) -> str:
        return "the configured api_key" if self._api_key else f"${self.api_key_env}"

    def _key(self) -> str:
        key = (self._api_key or secret.getenv(self.api_key_env)).strip()
        if not key:
            raise DispatchError(
                f"composer: no Anthropic API key: {self.api_key_env} is not set",
                hint=f"export {self.api_key_env}=<your key> (from console.anthropic.com), "
                "or name the variable that holds it with api_key_env in cockpit.toml",
            )
        return key

    def _client(self, key: str) -> anthropic.AsyncAnthropic:
        timeout = httpx2.Timeout(self.stall_s, connect=min(self.connect_s, self.stall_s))
        return anthropic.AsyncAnthropic(
            api_key=key, base_url=self.base_url, max_retries=self.max_retries, timeout=timeout
        )

    def _fail(self, key: str, message: str, hint: str = "", usage: Usage | None = None) -> DispatchError:
        def clean(s: str) -> str:
            return s.replace(key, "[redacted]") if len(key) >= 4 else s

        return DispatchError(clean(message), hint=clean(hint), usage=usage)

    # --- the call ------------------------------------------------------------------------

    def request_params(self, job: ComposeJob) -> dict[str, Any]:
        """The Messages API parameters for ``job`` (no diff can be in them: the job has none)."""
        if not job.request.strip():
            raise DispatchError("composer: the engine sent an empty request", hint="this is a cockpit bug")
        context: list[dict[str, Any]] = [{"type": "text", "text": c} for c in job.context if c.strip()]
        for block in context[-MAX_CONTEXT_BREAKPOINTS:]:  # the API allows 4 breakpoints; the system has one
            block["cache_control"] = dict(self.cache_control)
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max(1, min(job.max_tokens, self.max_tokens)),
            "messages": [{"role": "user", "content": [*context, {"type": "text", "text": job.request}]}],
        }
        if job.system.strip():
            system = {"type": "text", "text": job.system, "cache_control": dict(self.cache_control)}
            params["system"] = [system]
        if job.tool is not None:  # a decide call with decide_with = "tool"; else it answers in text
            tool = job.tool
            params["tools"] = [
                {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}
            ]
            params["tool_choice"] = {"type": "tool", "name": job.tool.name}
        return params

    async def compose(self, job: ComposeJob, out: OutputSink) -> ComposeResult:
        key = self._key()
        params = self.request_params(job)
        spent = Usage()  # what broken attempts cost
        retried = f" after {self.max_retries} retries" if self.max_retries else ""
        try:
            async with asyncio.timeout(self.timeout_s), self._client(key) as client:
                attempt = 0
                while True:
                    try:
                        result = await self._attempt(client, params, job, out)
                        return replace(result, usage=result.usage + spent)
                    except _StreamBroke as broke:
                        spent += broke.usage
                        attempt += 1
                        if attempt > self.stream_retries:
                            raise self._broken(key, broke, attempt, spent) from broke
                        delay = self.retry_backoff_s * 2 ** (attempt - 1)
                        out(
                            Output(
                                "status",
                                f"{broke.reason}; retrying the whole request "
                                f"({attempt} of {self.stream_retries}) in {delay:g}s",
                                meta={"retry": attempt},
                            )
                        )
                        if delay:
                            await asyncio.sleep(delay)
        except TimeoutError as exc:
            raise self._fail(
                key,
                f"composer: {self.model} did not finish within {self.timeout_s:g}s",
                hint="raise the composer's timeout_s, or lower max_tokens",
                usage=spent,
            ) from exc
        except anthropic.APIStatusError as exc:
            raise self._status_error(key, exc, retried, spent) from exc
        except anthropic.APITimeoutError as exc:
            raise self._fail(
                key,
                f"composer: no answer from {self.where} within {self.stall_s:g}s{retried}",
                hint="the API may be overloaded or the network slow; retry, or raise stall_s",
                usage=spent,
            ) from exc
        except anthropic.APIConnectionError as exc:
            raise self._fail(
                key,
                f"composer: cannot reach {self.where}{retried}: {exc.__cause__ or exc}",
                hint="check the network, or the base_url / ANTHROPIC_BASE_URL setting",
                usage=spent,
            ) from exc

    async def _attempt(
        self, client: anthropic.AsyncAnthropic, params: dict[str, Any], job: ComposeJob, out: OutputSink
    ) -> ComposeResult:
        partial = Usage()  # what this attempt is billed for so far (known from message_start on)
        tool = ""
        opened = False  # the headers arrived: from here on, a transport failure broke the stream
        try:
            async with client.messages.stream(**params) as stream:
                opened = True
                async for event in stream:
                    if event.type == "text":
                        out(Output("text", event.text))
                    elif event.type == "input_json":
                        if event.partial_json:
                            out(Output("text", event.partial_json, meta={"tool": tool}))
                    elif event.type == "content_block_start" and event.content_block.type == "tool_use":
                        tool = event.content_block.name
                        out(Output("status", f"calling tool {tool}", meta={"tool": tool}))
                    elif event.type == "message_start":
                        partial = _usage(event.message.usage)
                    elif event.type == "message_delta":
                        partial = _usage(stream.current_message_snapshot.usage)
                message = await stream.get_final_message()
        except anthropic.APIStatusError as exc:
            if exc.status_code != 200:  # an HTTP error, already retried by the SDK where it should be
                raise
            etype, emsg = _error_detail(exc.body)
            if etype not in RETRYABLE_STREAM_ERRORS:
                raise
            raise _StreamBroke(f"the stream broke with {etype} ({emsg})", partial) from exc
        except (anthropic.APIConnectionError, httpx2.TransportError) as exc:
            # Which class a mid-stream failure arrives as depends on the SDK release (2.14-2.16 let
            # httpx2's error through, 2.17 wraps it in APIConnectionError / APITimeoutError), so it
            # is judged by what happened: before the headers it is the SDK's (already retried) error,
            # after them the stream broke, and a timeout anywhere in the chain means it stalled.
            if not opened:
                raise
            if _stalled(exc):
                stall = f"the stream stalled for {self.stall_s:g}s"
                raise _StreamBroke(stall, partial, stalled=True) from exc
            raise _StreamBroke(f"the connection broke mid-answer ({_transport_name(exc)})", partial) from exc
        except ValueError as exc:
            if not str(exc).startswith(SDK_BAD_TOOL_JSON):
                raise
            raise _StreamBroke(f"the model's {tool} input was not valid JSON", partial) from exc
        if message.stop_reason is None:
            raise _StreamBroke("the stream ended before message_stop", partial)
        return self._result(message, job, out)

    def _result(self, message: anthropic.types.Message, job: ComposeJob, out: OutputSink) -> ComposeResult:
        text = "".join(b.text for b in message.content if b.type == "text")
        tool_input: dict[str, Any] | None = None
        if job.tool is not None:
            for block in message.content:
                if block.type == "tool_use" and block.name == job.tool.name and isinstance(block.input, dict):
                    tool_input = dict(block.input)
                    break
        usage = _usage(message.usage)
        stop_reason = message.stop_reason or ""
        if stop_reason == "max_tokens":
            cut = " (the decide call's input was cut, so it is dropped)" if tool_input is not None else ""
            out(
                Output(
                    "status",
                    f"the answer was cut at max_tokens ({usage.output_tokens} tokens){cut}",
                    meta={"stop_reason": "max_tokens"},
                )
            )
            tool_input = None
        return ComposeResult(text=text, usage=usage, tool_input=tool_input, stop_reason=stop_reason)

    # --- errors --------------------------------------------------------------------------

    def _broken(self, key: str, broke: _StreamBroke, attempts: int, spent: Usage) -> DispatchError:
        if broke.stalled:
            hint = (
                f"no data arrived for {self.stall_s:g}s, {attempts} times; the API may be overloaded "
                "or the network stalled: retry later, or raise stall_s"
            )
        else:
            hint = "Anthropic may be overloaded (status.anthropic.com); retry later, or raise stream_retries"
        return self._fail(
            key,
            f"composer: the answer from {self.model} failed {attempts} times: {broke.reason}",
            hint=hint,
            usage=spent,
        )

    def _status_error(
        self, key: str, exc: anthropic.APIStatusError, retried: str, spent: Usage
    ) -> DispatchError:
        status = exc.status_code
        etype, emsg = _error_detail(exc.body)
        rid = f", request {exc.request_id}" if exc.request_id else ""
        said = f"{status} {etype}: {emsg}{rid}" if etype else f"{status}: {emsg}{rid}"
        message, hint = self._explain(status, said, retried, exc)
        return self._fail(key, f"composer: {message}", hint=hint, usage=spent)

    def _explain(
        self, status: int, said: str, retried: str, exc: anthropic.APIStatusError
    ) -> tuple[str, str]:
        """What an error status means for the user, and what to do about it."""
        if status == 401:
            return (
                f"Anthropic rejected the API key ({said})",
                f"check the key in {self._key_source()}; it may be mistyped or revoked",
            )
        if status == 403:
            return (
                f"the API key may not use {self.model} ({said})",
                "check the key's workspace and its model access in the Anthropic console",
            )
        if status == 404:
            return (
                f"model {self.model!r} was not found at {self.where} ({said})",
                "check the composer model name in cockpit.toml (e.g. claude-sonnet-4-6)",
            )
        if status == 413:
            return (
                f"the request is too large ({said})",
                "the session thread or the verdicts grew too big; start a new session",
            )
        if status == 429:
            after = exc.response.headers.get("retry-after")
            wait = f" (the API asked to wait {after}s)" if after else ""
            return (
                f"rate limited{retried} ({said})",
                f"wait a minute and retry{wait}, or raise the organisation's rate limit",
            )
        if status == 529:
            return (
                f"Anthropic is overloaded{retried} ({said})",
                "a temporary capacity problem (status.anthropic.com); retry in a minute",
            )
        if status >= 500:
            return (
                f"Anthropic server error{retried} ({said})",
                "a problem on Anthropic's side (status.anthropic.com); retry later",
            )
        if status == 200:
            return (
                f"the answer failed mid-stream ({said})",
                "the error says what; retry, and report it if it repeats",
            )
        return (
            f"Anthropic refused the request ({said})",
            "the message names the field; a prompt too long for the model also lands here",
        )

    # --- doctor --------------------------------------------------------------------------

    async def check(self, timeout_s: float = 10.0) -> list[str]:
        """Problems with this composer's settings for ``cockpit doctor``: key, reachability, model."""
        try:
            key = self._key()
        except DispatchError as exc:
            return [f"{exc.message}: {exc.hint}"]
        async with anthropic.AsyncAnthropic(
            api_key=key, base_url=self.base_url, max_retries=0, timeout=timeout_s
        ) as client:
            try:
                await client.models.retrieve(self.model)
            except anthropic.APIStatusError as exc:
                err = self._status_error(key, exc, "", Usage())
                return [f"{err.message}: {err.hint}"]
            except anthropic.APIConnectionError as exc:
                err = self._fail(
                    key,
                    f"cannot reach {self.where}: {exc.__cause__ or exc}",
                    "check the network, or the base_url / ANTHROPIC_BASE_URL setting",
                )
                return [f"{err.message}: {err.hint}"]
        return []
