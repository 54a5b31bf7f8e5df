"""What the simulators share: lifecycle, standalone serving, SSE framing, chunks, stalls, pacing."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys

import httpx
import pytest

from cockpit.demo.scenario import Pacing
from cockpit.demo.sim.anthropic import AnthropicSimulator
from cockpit.demo.sim.http import SimServer, chunks, sse, stall
from cockpit.demo.sim.ollama import OllamaSim
from tests.support.responses_sim import ResponsesSim


def test_pacing_is_divided_by_speed_and_zero_means_none() -> None:
    assert Pacing.scaled(1.0, 2.0) == 0.5
    assert Pacing.scaled(1.0, 0.0) == 0.0
    assert Pacing.scaled(0.0, 3.0) == 0.0
    assert Pacing.scaled(-1.0, 1.0) == 0.0


def test_chunks_and_sse_framing() -> None:
    assert chunks("abcdefg", 3) == ["abc", "def", "g"]
    assert chunks("ab", 0) == ["a", "b"] and chunks("", 4) == []
    event = sse("message_start", {"text": "héllo"})
    name, data, blank = event.decode().split("\n", 2)
    assert name == "event: message_start" and blank == "\n"
    assert json.loads(data.removeprefix("data: ")) == {"text": "héllo"} and "héllo" in data


async def test_stall_waits_its_time_or_until_cancelled() -> None:
    await stall(0.0)
    forever = asyncio.ensure_future(stall(None))
    await asyncio.sleep(0.01)
    assert not forever.done()
    forever.cancel()
    with pytest.raises(asyncio.CancelledError):
        await forever


@pytest.mark.parametrize("make", [AnthropicSimulator, OllamaSim, ResponsesSim])
async def test_every_simulator_has_the_same_lifecycle(make: type[SimServer]) -> None:
    sim = make()
    async with sim as started:
        url = sim.url
        assert started is sim and url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as client:
            await client.get(f"{url}/nowhere")
        assert [r.path for r in sim.log] == ["/nowhere"]
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/again", timeout=2)


@pytest.mark.parametrize(
    ("module", "first"),
    [
        ("cockpit.demo.sim.anthropic", ""),
        ("cockpit.demo.sim.ollama", ""),
        ("tests.support.responses_sim", "/v1"),
    ],
)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_standalone_serves_until_signalled(module: str, first: str, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--speed", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith(first)
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
