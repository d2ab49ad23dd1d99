"""The protocol tests of the moshi-server double (tests/integration/test_moshi_double.py),
run unchanged against the engine on the tiny checkpoint: the double and the engine are
written from the same Rust sources and must agree. Tests whose words come from the double's
recogniser (test sentences), or that need the double's own switches, stay with the double."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from server.engine.batch import BatchModel
from server.engine.checkpoint import EngineFacts
from server.engine.server import EngineServer, Limits
from tests.engine.conftest import KEY
from tests.integration import test_moshi_double as double_tests


class EngineAsDouble:
    """The engine behind the double's interface (what those tests read and do)."""

    def __init__(self, server: EngineServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def busy_slots(self) -> int:
        return self.server.used_slots

    def kill_model_loop(self) -> None:
        task = self.server._loop_task
        assert task is not None
        task.cancel()


@pytest.fixture
def moshi_double(tiny_info: tuple[Any, EngineFacts]) -> Any:
    @asynccontextmanager
    async def make(
        slots: int = 4,
        delay_frames: int | None = None,
        ping_after: float = 10.0,
        drop_without_frames: float = 20.0,
        drop_without_binary: float = 120.0,
    ) -> AsyncIterator[EngineAsDouble]:
        info, facts = tiny_info
        assert delay_frames in (None, facts.delay_frames)  # the checkpoint's delay
        model = BatchModel(info, slots, "cpu", "float32")
        limits = Limits(ping_after, drop_without_frames, drop_without_binary)
        async with EngineServer(model, facts, frozenset({KEY}), limits=limits) as server:
            assert await server.wait_ready(), "the engine failed to warm up"
            yield EngineAsDouble(server)

    return make


test_auth_by_header_or_query_and_401_otherwise = (
    double_tests.test_auth_by_header_or_query_and_401_otherwise
)
test_no_free_channels = double_tests.test_no_free_channels
test_one_step_per_frame_with_backlog_and_marker_after_delay = (
    double_tests.test_one_step_per_frame_with_backlog_and_marker_after_delay
)
test_sessions_end_on_garbage_and_when_idle = double_tests.test_sessions_end_on_garbage_and_when_idle
test_step_idx_is_the_global_step_counter_from_warm_up = (
    double_tests.test_step_idx_is_the_global_step_counter_from_warm_up
)
test_buffered_pcm_is_only_the_leftover_of_an_oversized_message = (
    double_tests.test_buffered_pcm_is_only_the_leftover_of_an_oversized_message
)
test_the_api_key_header_wins_over_the_query = (
    double_tests.test_the_api_key_header_wins_over_the_query
)
test_pings_keep_a_session_and_a_dropped_one_gets_no_close_frame = (
    double_tests.test_pings_keep_a_session_and_a_dropped_one_gets_no_close_frame
)
test_an_undecodable_frame_drops_the_session_without_a_close_frame = (
    double_tests.test_an_undecodable_frame_drops_the_session_without_a_close_frame
)
test_modules_info_reports_slots_as_strings = double_tests.test_modules_info_reports_slots_as_strings
