"""Shared fixtures: synthesised speech, the moshi-server double and the proxy on loopback."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from server.proxy.channel import Transport
from server.proxy.config import ProxyConfig
from server.proxy.server import ProxyServer
from tests.support.fuzzing import register_profiles
from tests.support.moshi_double import DoubleConfig, MoshiDouble
from tests.support.speech import SENTENCES, speech

FAST_STEP = 0.02  # the double runs its model loop 4x faster than real time
register_profiles()  # before pytest loads one (--hypothesis-profile=fuzz)


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: run the README's test command (tests/run)")
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def two_sentences(speech_dir: Path) -> np.ndarray:
    """The first two test sentences, each followed by 1.5 s of silence."""
    return speech(SENTENCES[:2], speech_dir)


def words_of(sentences: list[str]) -> list[str]:
    return " ".join(sentences).split()


DoubleFactory = Callable[..., AbstractAsyncContextManager[MoshiDouble]]
ProxyFactory = Callable[..., AbstractAsyncContextManager[ProxyServer]]


@pytest.fixture
def moshi_double() -> DoubleFactory:
    @asynccontextmanager
    async def make(**overrides: object) -> AsyncIterator[MoshiDouble]:
        config = DoubleConfig(list(SENTENCES), step_seconds=FAST_STEP)
        async with MoshiDouble(replace(config, **overrides)) as double:
            yield double

    return make


@pytest.fixture
def proxy_transport() -> Transport:
    """The proxy's WebSocket library: its default here; the proxy's own test modules run
    each test with every transport (they override this fixture with ``each_transport``)."""
    return ProxyConfig().transport


def each_transport(request: pytest.FixtureRequest) -> Transport:
    transport: Transport = request.param
    return transport


@pytest.fixture
def proxy(proxy_transport: Transport) -> ProxyFactory:
    @asynccontextmanager
    async def make(backend_url: str, **overrides: object) -> AsyncIterator[ProxyServer]:
        base = ProxyConfig(port=0, backend_url=backend_url, transport=proxy_transport)
        config = replace(base, **overrides)
        async with ProxyServer(config) as server:
            yield server

    return make
