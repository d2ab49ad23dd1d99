"""The local engine's fixtures: one tiny random checkpoint per session, engines on loopback.

Skipped, with the reason, only where torch or moshi is missing; tests/run installs both."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("NO_TORCH_COMPILE", "1")
torch = pytest.importorskip("torch", reason="the engine's tests need torch (tests/run installs it)")
pytest.importorskip("moshi", reason="the engine's tests need moshi (tests/run installs it)")
# One thread: the tiny model gains nothing from more, and on a shared 2-core machine torch's
# thread pool oversubscribes it (a 1 s test took 60 s).
torch.set_num_threads(1)

from server.engine.batch import BatchModel  # noqa: E402
from server.engine.checkpoint import EngineFacts, load_info  # noqa: E402
from server.engine.server import EngineServer, Limits  # noqa: E402
from tests.support.tiny_checkpoint import make_tiny_checkpoint  # noqa: E402

KEY = "public_token"
EngineFactory = Callable[..., AbstractAsyncContextManager[EngineServer]]


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-stt"))


@pytest.fixture(scope="session")
def tiny_info(tiny_checkpoint: Path) -> tuple[Any, EngineFacts]:
    return load_info("kyutai/stt-1b-en_fr", tiny_checkpoint)


@pytest.fixture
def engine(tiny_info: tuple[Any, EngineFacts]) -> EngineFactory:
    @asynccontextmanager
    async def make(
        batch_size: int = 2, limits: Limits | None = None
    ) -> AsyncIterator[EngineServer]:
        info, facts = tiny_info
        model = BatchModel(info, batch_size, "cpu", "float32")
        async with EngineServer(model, facts, frozenset({KEY}), limits=limits) as server:
            assert await server.wait_ready(), "the engine failed to warm up"
            yield server

    return make


@pytest.fixture(scope="session")
def offline_model(tiny_info: tuple[Any, EngineFacts]) -> BatchModel:
    return BatchModel(tiny_info[0], 1, "cpu", "float32")
