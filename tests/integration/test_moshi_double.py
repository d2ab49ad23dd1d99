"""The moshi-server double behaves as PROTOCOL.md section 2 says the Rust server does."""

from __future__ import annotations

import asyncio
import itertools
import json
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from server.protocol import moshi
from server.protocol.audio import FRAME_SAMPLES, silence
from tests.conftest import DoubleFactory, words_of
from tests.support.clients import eventually
from tests.support.moshi_double import MoshiDouble
from tests.support.speech import SENTENCES, speech

KEY = {moshi.API_KEY_HEADER: "public_token"}


def frames_of(audio: np.ndarray) -> np.ndarray:
    """``audio`` as whole frames, the last one padded with silence."""
    padded = np.concatenate((audio, np.zeros(-len(audio) % FRAME_SAMPLES, np.float32)))
    return padded.reshape(-1, FRAME_SAMPLES)


def speech_frames(audio: np.ndarray) -> np.ndarray:
    """The frames of ``audio`` up to the end of its speech (no trailing silence)."""
    speech_end = int(np.flatnonzero(np.abs(audio) > 0.01)[-1])
    return frames_of(audio[: speech_end + 1])


async def next_message(ws: ClientConnection, skip_steps: bool = True) -> moshi.ServerMessage:
    while True:
        message = moshi.decode_server(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[arg-type]
        if not (skip_steps and isinstance(message, moshi.Step)):
            return message


async def test_auth_by_header_or_query_and_401_otherwise(moshi_double: DoubleFactory) -> None:
    async with moshi_double() as double:
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
        async with connect(double.url + "?auth_id=public_token") as ws:
            assert await next_message(ws) == moshi.Ready()
        with pytest.raises(InvalidStatus) as caught:
            await connect(double.url)
        assert caught.value.response.status_code == 401


async def test_no_free_channels(moshi_double: DoubleFactory) -> None:
    async with moshi_double(slots=1) as double, connect(double.url, additional_headers=KEY) as a:
        assert await next_message(a) == moshi.Ready()
        async with connect(double.url, additional_headers=KEY) as b:
            assert await next_message(b) == moshi.Error(moshi.NO_FREE_CHANNELS)
            with pytest.raises(ConnectionClosed):
                await b.recv()


async def test_one_step_per_frame_with_backlog_and_marker_after_delay(
    moshi_double: DoubleFactory,
) -> None:
    async with moshi_double(delay_frames=6) as double:  # noqa: SIM117
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
            # four frames in one message: one is processed per step, the rest is backlog
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(4))))
            await ws.send(moshi.encode(moshi.Marker(42)))
            steps = [await next_message(ws, skip_steps=False) for _ in range(4)]
            assert [s.step_idx for s in steps] == [3, 4, 5, 6]  # type: ignore[union-attr]
            assert [s.buffered_pcm for s in steps] == [  # type: ignore[union-attr]
                3 * FRAME_SAMPLES,
                2 * FRAME_SAMPLES,
                FRAME_SAMPLES,
                0,
            ]
            # the marker needs the model delay in further audio frames
            for _ in range(5):
                await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert moshi.Marker(42) not in await received_until_quiet(ws)
            for _ in range(2):
                await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert await next_message(ws) == moshi.Marker(42)


async def received_until_quiet(
    ws: ClientConnection, quiet: float = 0.3
) -> list[moshi.ServerMessage]:
    """Everything the server sends until it stays silent for ``quiet`` seconds."""
    out = []
    while True:
        try:
            data = await asyncio.wait_for(ws.recv(), quiet)
        except TimeoutError:
            return out
        out.append(moshi.decode_server(data))  # type: ignore[arg-type]


async def test_large_model_style_sends_no_steps(moshi_double: DoubleFactory) -> None:
    async with moshi_double(extra_heads=False) as double:  # noqa: SIM117
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws, skip_steps=False) == moshi.Ready()
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(3))))
            await ws.send(moshi.encode(moshi.Marker(1)))
            for _ in range(8):
                await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert await next_message(ws, skip_steps=False) == moshi.Marker(1)


async def receive_until_closed(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)


async def send_text_only(ws: ClientConnection, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        await ws.send("frames, but no binary message")
        await asyncio.sleep(0.1)


async def test_sessions_end_on_garbage_and_when_idle(moshi_double: DoubleFactory) -> None:
    async with moshi_double(drop_without_frames=0.4, drop_without_binary=1.0) as double:
        async with connect(double.url, additional_headers=KEY) as ws:
            await ws.send("text frames are ignored")
            assert await next_message(ws) == moshi.Ready()
            await ws.send(b"\xc1 not msgpack")
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
        async with connect(double.url, additional_headers=KEY, ping_interval=None) as ws:
            assert await next_message(ws) == moshi.Ready()
            with pytest.raises(ConnectionClosed) as dropped:
                await receive_until_closed(ws)  # no frame from us: the short timeout fires
            assert dropped.value.rcvd is None  # dropped, as a timed-out session is, not closed
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
            await send_markers_only(ws, seconds=2.0)  # binary messages: the session stays
            with pytest.raises(ConnectionClosed):
                await send_text_only(ws, seconds=5.0)  # no binary message: dropped after 1 s


async def send_markers_only(ws: ClientConnection, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        await ws.send(moshi.encode(moshi.Marker(0)))
        await asyncio.sleep(0.1)


async def test_words_need_audio_to_keep_coming(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """Words of audio already sent stay inside until more frames push them out: a word comes
    ``delay`` processed frames after it starts, at the earliest (2.6B-style delay here)."""
    async with (
        moshi_double(delay_frames=32, extra_heads=False) as double,
        connect(double.url, additional_headers=KEY) as ws,
    ):
        assert await next_message(ws) == moshi.Ready()
        for frame in speech_frames(two_sentences):
            await ws.send(moshi.encode(moshi.Audio.from_samples(frame)))
        received = await received_until_quiet(ws, quiet=1.0)
        words = [m.text for m in received if isinstance(m, moshi.Word)]
        assert "window" not in words  # the last word is still inside the model
        for _ in range(40):
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
        while True:
            message = await next_message(ws)
            if isinstance(message, moshi.Word) and message.text == "window":
                break


# -- behaviours read from kyutai-labs/moshi rust/moshi-server 0.6.x (issue 8, section 7) ------


async def test_words_come_while_audio_flows_not_only_after_a_pause(
    moshi_double: DoubleFactory, speech_dir: Path
) -> None:
    """moshi-core asr.rs ``State::step_tokens``: a word goes out at the token after it, not
    at the end of the sentence; so most words of a sentence arrive while it is spoken."""
    sentence = speech_frames(speech([SENTENCES[0]], speech_dir, gap_seconds=0.0))
    async with moshi_double() as double, connect(double.url, additional_headers=KEY) as ws:
        assert await next_message(ws) == moshi.Ready()
        for frame in sentence:  # speech only: no pause for an end of utterance
            await ws.send(moshi.encode(moshi.Audio.from_samples(frame)))
        received = await received_until_quiet(ws, quiet=1.0)
    words = [m.text for m in received if isinstance(m, moshi.Word)]
    expected = SENTENCES[0].split()
    assert words == expected[: len(words)]
    assert len(words) >= len(expected) - 3  # the model delay holds back the last one or two


async def test_end_word_and_start_times_follow_the_token_rules(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    """asr.rs: ``EndWord`` only at an end-of-padding token, i.e. when a later word begins;
    a word's ``start_time`` is the last such stop time (0 at first); the last word gets none."""
    async with moshi_double() as double, connect(double.url, additional_headers=KEY) as ws:
        assert await next_message(ws) == moshi.Ready()
        for frame in frames_of(two_sentences):
            await ws.send(moshi.encode(moshi.Audio.from_samples(frame)))
        received = await received_until_quiet(ws, quiet=1.0)
    events = [m for m in received if isinstance(m, moshi.Word | moshi.EndWord)]
    words = [m for m in events if isinstance(m, moshi.Word)]
    assert [w.text for w in words] == words_of(SENTENCES[:2])
    assert isinstance(events[0], moshi.Word)
    assert isinstance(events[-1], moshi.Word)
    last_stop = 0.0
    for before, event in itertools.pairwise(events):
        if isinstance(event, moshi.EndWord):
            assert isinstance(before, moshi.Word)  # never two EndWords in a row
            assert event.stop_time >= last_stop
            last_stop = event.stop_time
        else:
            assert event.start_time == last_stop
    assert 0 < len(events) - len(words) < len(words)


async def test_step_idx_is_the_global_step_counter_from_warm_up(
    moshi_double: DoubleFactory,
) -> None:
    """batched_asr.rs ``warmup`` runs two model steps before any session; moshi-core's
    ``model_step_idx`` counts them and never resets."""
    async with moshi_double() as double:
        firsts = []
        for _ in range(2):
            async with connect(double.url, additional_headers=KEY) as ws:
                assert await next_message(ws) == moshi.Ready()
                for _ in range(3):
                    await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
                steps = [await next_message(ws, skip_steps=False) for _ in range(3)]
                firsts.append(steps[0].step_idx)  # type: ignore[union-attr]
                assert [s.step_idx for s in steps] == [firsts[-1] + i for i in range(3)]  # type: ignore[union-attr]
    assert firsts == [3, 6]


async def test_buffered_pcm_is_only_the_leftover_of_an_oversized_message(
    moshi_double: DoubleFactory,
) -> None:
    """batched_asr.rs ``Channel::extend_data``: whole messages queue unseen; only samples past
    the first frame of one message are counted."""
    async with moshi_double() as double, connect(double.url, additional_headers=KEY) as ws:
        assert await next_message(ws) == moshi.Ready()
        await ws.send(moshi.encode(moshi.Audio.from_samples(np.zeros(FRAME_SAMPLES + 500))))
        for _ in range(6):  # queued behind it, one per step: invisible
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
        steps = [await next_message(ws, skip_steps=False) for _ in range(7)]
    assert [s.buffered_pcm for s in steps] == [500] * 7  # type: ignore[union-attr]


async def test_init_resets_the_slot_and_answers_ready(
    moshi_double: DoubleFactory, speech_dir: Path
) -> None:
    """batched_asr.rs ``pre_process``: ``Init`` -> ``Ready`` and ``reset_batch_idx``."""
    sentence = frames_of(speech([SENTENCES[1]], speech_dir, gap_seconds=1.0))
    starts = []
    async with moshi_double() as double, connect(double.url, additional_headers=KEY) as ws:
        assert await next_message(ws) == moshi.Ready()
        for _ in range(2):
            for frame in sentence:
                await ws.send(moshi.encode(moshi.Audio.from_samples(frame)))
            received = await received_until_quiet(ws, quiet=1.0)
            words = [m for m in received if isinstance(m, moshi.Word)]
            assert [w.text for w in words] == SENTENCES[1].split()
            starts.append(words[1].start_time)
            await ws.send(moshi.encode(moshi.Init()))
            assert await next_message(ws) == moshi.Ready()
    assert starts[1] == starts[0]  # times start from 0 again


async def test_the_api_key_header_wins_over_the_query(moshi_double: DoubleFactory) -> None:
    """main.rs ``batched_asr_router``: with a ``kyutai-api-key`` header, ``auth_id`` is unused."""
    async with moshi_double() as double:
        for header in ("wrong", ""):
            with pytest.raises(InvalidStatus) as caught:
                await connect(
                    double.url + "?auth_id=public_token",
                    additional_headers={moshi.API_KEY_HEADER: header},
                )
            assert caught.value.response.status_code == 401
        async with connect(double.url + "?auth_id=wrong", additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()


async def ping_for(ws: ClientConnection, seconds: float) -> None:
    for _ in range(int(seconds / 0.1)):
        await ws.ping()
        await asyncio.sleep(0.1)


async def test_pings_keep_a_session_and_a_dropped_one_gets_no_close_frame(
    moshi_double: DoubleFactory,
) -> None:
    """batched_asr.rs ``handle_socket``: the short timeout waits for any frame, pings included;
    when it fires, the session's tasks end and the socket is dropped without a close frame."""
    async with moshi_double(drop_without_frames=0.5) as double:
        async with connect(double.url, additional_headers=KEY, ping_interval=None) as ws:
            assert await next_message(ws) == moshi.Ready()
            await ping_for(ws, 1.5)  # pings only, no message: the session stays
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert isinstance(await next_message(ws, skip_steps=False), moshi.Step)
            with pytest.raises(ConnectionClosed):
                await receive_until_closed(ws)
        assert ws.close_code == 1006


async def test_an_undecodable_frame_drops_the_session_without_a_close_frame(
    moshi_double: DoubleFactory,
) -> None:
    async with moshi_double() as double:
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
            await ws.send(b"\xc1 not msgpack")
            with pytest.raises(ConnectionClosed):
                await receive_until_closed(ws)
        assert ws.close_code == 1006
        assert await eventually(lambda: double.busy_slots == 0)


def modules_info(double: MoshiDouble) -> list[dict[str, str]]:
    url = f"http://127.0.0.1:{double.port}/api/modules_info"
    with urllib.request.urlopen(url, timeout=5) as response:
        info: list[dict[str, str]] = json.loads(response.read())
        return info


async def test_modules_info_reports_slots_as_strings(moshi_double: DoubleFactory) -> None:
    """main.rs ``modules_info``: a JSON list with one map of strings per batched module."""
    async with moshi_double(slots=3) as double, connect(double.url, additional_headers=KEY) as ws:
        assert await next_message(ws) == moshi.Ready()
        info = await asyncio.to_thread(modules_info, double)
    assert len(info) == 1
    assert info[0]["type"] == "batched_asr"
    assert info[0]["path"] == moshi.PATH
    assert (info[0]["used_slots"], info[0]["total_slots"]) == ("1", "3")


async def test_a_dead_model_loop_keeps_its_slots_and_refuses_every_session(
    moshi_double: DoubleFactory,
) -> None:
    """batched_asr.rs: the model loop's error is only logged; channels are freed by that loop
    alone, so after it died every slot stays taken and new sessions get "no free channels"."""
    async with moshi_double(slots=3) as double:
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Ready()
            double.kill_model_loop()  # dies while a session holds its slot
            await ws.send(moshi.encode(moshi.Audio.from_samples(silence(1))))
            assert await received_until_quiet(ws) == []  # no Step: nothing runs
        for _ in range(2):  # a free slot is taken, and never answered
            async with connect(double.url, additional_headers=KEY) as ws:
                assert await received_until_quiet(ws) == []
        info = await asyncio.to_thread(modules_info, double)
        assert (info[0]["used_slots"], info[0]["total_slots"]) == ("3", "3")
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Error(moshi.NO_FREE_CHANNELS)
    async with moshi_double(slots=2, failed_loop=True) as double:
        info = await asyncio.to_thread(modules_info, double)
        assert (info[0]["used_slots"], info[0]["total_slots"]) == ("2", "2")
        async with connect(double.url, additional_headers=KEY) as ws:
            assert await next_message(ws) == moshi.Error(moshi.NO_FREE_CHANNELS)
