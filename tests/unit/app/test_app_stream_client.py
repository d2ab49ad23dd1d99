"""StreamClient and run_stream against a tiny real /v1/stream server on loopback."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from app.backend.connect import open_v1_stream
from app.backend.stream_client import (
    ConnectError,
    StreamClient,
    StreamClosed,
    StreamEndedEarly,
    StreamError,
    StreamProtocolError,
    Unauthorized,
)
from app.backend.stream_runner import DrainTimeout, run_stream
from app.core.endpoint import Endpoint
from app.core.settings import ServerProtocol
from server.models import STT_1B, STT_2_6B
from server.protocol.audio import FRAME_SAMPLES, Samples, pcm_from_bytes
from server.protocol.errors import ErrorCode
from server.protocol.stream import (
    End,
    EndOfAudio,
    Error,
    Ready,
    ServerMessage,
    Token,
    VadEnd,
    decode_client,
    encode_server,
)
from server.proxy.server import announce_protocol

Handler = Callable[[ServerConnection], Awaitable[None]]


@asynccontextmanager
async def stream_server(
    handler: Handler,
    process_request: Callable[[ServerConnection, Request], Response | None] | None = None,
    announce: bool = True,
) -> AsyncIterator[str]:
    """Serve ``handler`` on 127.0.0.1 and yield the /v1/stream URL; ``announce``: name this
    project's protocol in the 101 response, as its proxy does."""
    async with serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        process_response=announce_protocol if announce else None,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/v1/stream"


async def send(ws: ServerConnection, message: ServerMessage) -> None:
    await ws.send(encode_server(message))


async def wait_for_end(ws: ServerConnection) -> None:
    """Read client messages up to and including ``end``."""
    async for data in ws:
        if isinstance(decode_client(data), EndOfAudio):
            return


async def echo_words(ws: ServerConnection) -> None:
    """Ready, then one token per audio message (its sample count), then End on end."""
    await send(ws, Ready())
    async for data in ws:
        message = decode_client(data)
        if isinstance(message, EndOfAudio):
            await send(ws, VadEnd())
            await send(ws, End())
            return
        await send(ws, Token(f" n{len(pcm_from_bytes(message.pcm))}"))


async def frames_of(*sizes: int) -> AsyncIterator[Samples]:
    for size in sizes:
        yield np.zeros(size, dtype=np.float32)


async def collect(stream: StreamClient) -> list[ServerMessage]:
    return [message async for message in stream.messages()]


async def end_and_collect(stream: StreamClient) -> list[ServerMessage]:
    await stream.end()
    return await collect(stream)


async def test_audio_up_tokens_down_end_last() -> None:
    received: list[bytes] = []

    async def handler(ws: ServerConnection) -> None:
        await send(ws, Ready())
        async for data in ws:
            if isinstance(data, str):
                assert json.loads(data) == {"type": "end"}
                await send(ws, Token(" hello", 0.5))
                await send(ws, End())
                return
            received.append(data)

    samples = np.linspace(-1, 1, FRAME_SAMPLES, dtype=np.float32)
    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        await stream.send_audio(samples)
        await stream.send_audio(samples[:10])
        await stream.end()
        messages = await collect(stream)
        assert stream.stats.audio_messages == 2
        assert stream.stats.samples == FRAME_SAMPLES + 10
        first, last, end = (
            stream.stats.first_audio_at,
            stream.stats.last_audio_at,
            stream.stats.end_sent_at,
        )
        assert first is not None
        assert last is not None
        assert end is not None
        assert first <= last <= end
    assert messages == [Ready(), Token(" hello", 0.5), End()]
    assert received == [samples.astype("<f4").tobytes(), samples[:10].astype("<f4").tobytes()]


async def test_headers_reach_the_server() -> None:
    seen: dict[str, str] = {}

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        seen.update((name, request.headers[name]) for name in ("Authorization", "Modal-Key"))
        return None

    async def handler(ws: ServerConnection) -> None:
        await wait_for_end(ws)
        await send(ws, End())

    headers = (("Authorization", "Bearer t0k"), ("Modal-Key", "k"))
    async with (
        stream_server(handler, process_request) as url,
        StreamClient.connect(Endpoint(url, headers)) as stream,
    ):
        assert await end_and_collect(stream) == [End()]
    assert seen["Authorization"] == "Bearer t0k"
    assert seen["Modal-Key"] == "k"


async def test_send_audio_converts_to_float32_little_endian() -> None:
    received: list[bytes] = []

    async def handler(ws: ServerConnection) -> None:
        received.append(await ws.recv(decode=False))
        await wait_for_end(ws)
        await send(ws, End())

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        await stream.send_audio(np.array([0.5, -0.25], dtype=np.float64))
        await end_and_collect(stream)
    assert received == [np.array([0.5, -0.25], dtype="<f4").tobytes()]


async def test_send_audio_refuses_multichannel_and_audio_after_end() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(ValueError, match="mono"):
            await stream.send_audio(np.zeros((4, 2), dtype=np.float32))
        await stream.end()
        await stream.end()  # idempotent
        with pytest.raises(RuntimeError):
            await stream.send_audio(np.zeros(4, dtype=np.float32))


async def test_unauthorized_at_the_handshake() -> None:
    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(401, "missing or wrong token\n")

    async def handler(ws: ServerConnection) -> None:
        raise AssertionError("never upgraded")

    endpoint_headers = (("Authorization", "Bearer sekrit"),)
    async with stream_server(handler, refuse) as url:
        with pytest.raises(Unauthorized, match="unauthorized") as caught:
            async with StreamClient.connect(Endpoint(url, endpoint_headers)):
                pass
    assert "401" in str(caught.value)
    assert "sekrit" not in str(caught.value)


async def test_other_http_status_is_a_connect_error() -> None:
    def not_found(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(404, "not found\n")

    async def handler(ws: ServerConnection) -> None:
        pass

    async with stream_server(handler, not_found) as url:
        with pytest.raises(ConnectError, match="404") as caught:
            async with StreamClient.connect(Endpoint(url)):
                pass
    assert not isinstance(caught.value, Unauthorized)


async def test_connection_refused() -> None:
    async def handler(ws: ServerConnection) -> None:
        pass

    async with stream_server(handler) as url:
        pass  # the port is free again: nothing listens there now
    with pytest.raises(ConnectError, match="refused"):
        async with StreamClient.connect(Endpoint(url)):
            pass


async def test_handshake_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(ConnectError, match="timed out"):
            async with StreamClient.connect(Endpoint(f"ws://127.0.0.1:{port}/"), open_timeout=0.2):
                pass


async def test_server_error_raises_stream_error_with_code() -> None:
    async def handler(ws: ServerConnection) -> None:
        await send(ws, Token(" partial"))
        await send(ws, Error("no free backend slot", ErrorCode.BUSY))
        await ws.close(ErrorCode.BUSY.close_code)

    got: list[ServerMessage] = []

    async def receive(stream: StreamClient) -> None:
        async for message in stream.messages():
            got.append(message)

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(StreamError) as caught:
            await receive(stream)
    assert got == [Token(" partial")]
    assert caught.value.code is ErrorCode.BUSY
    assert caught.value.message == "no free backend slot"
    assert "busy" in str(caught.value)


async def test_unexpected_close_without_end() -> None:
    async def handler(ws: ServerConnection) -> None:
        await send(ws, Ready())
        await ws.close(1011, "backend went away")

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(StreamClosed, match="backend went away") as caught:
            await collect(stream)
    assert caught.value.close_code == 1011


async def test_normal_close_without_end_is_still_unexpected() -> None:
    async def handler(ws: ServerConnection) -> None:
        await send(ws, Token(" hi"))

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(StreamClosed):
            await collect(stream)


async def test_end_before_the_client_ended_is_an_early_end() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        await send(ws, Token(" cut"))
        await send(ws, End())  # e.g. the proxy shutting down
        async for _ in ws:  # read on, so that the client's close frame gets through
            pass

    got: list[ServerMessage] = []
    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(StreamEndedEarly, match="before the audio ended"):
            await run_stream(stream, frames_of(*[FRAME_SAMPLES] * 1000), got.append)
    assert got == [Token(" cut")]


async def test_unknown_message_types_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.send('{"type": "stats", "load": 0.5}')
        await send(ws, Token(" kept"))
        await wait_for_end(ws)
        await send(ws, End())

    caplog.set_level(logging.DEBUG, logger="app.backend.stream_client")
    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        assert await end_and_collect(stream) == [Token(" kept"), End()]
    assert "stats" in caplog.text


@pytest.mark.parametrize(
    "bad", ['{"type": "token"}', "not json", '["token"]', '{"text": "no type"}', b"\x00\x01"]
)
async def test_malformed_messages_are_protocol_errors(bad: str | bytes) -> None:
    async def handler(ws: ServerConnection) -> None:
        await wait_for_end(ws)
        await ws.send(bad)
        await send(ws, End())

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(StreamProtocolError):
            await end_and_collect(stream)


async def test_handshake_debug_log_hides_secrets(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(ws: ServerConnection) -> None:
        await wait_for_end(ws)
        await send(ws, End())

    caplog.set_level(logging.DEBUG)
    headers = (("Authorization", "Bearer t0p-secret"), ("Modal-Secret", "m0dal"))
    async with (
        stream_server(handler) as url,
        StreamClient.connect(Endpoint(url + "?auth_id=qu3ry", headers)) as stream,
    ):
        await end_and_collect(stream)
    client_log = "\n".join(
        record.getMessage() for record in caplog.records if record.name.startswith("app.")
    )
    assert "Authorization: ***" in client_log  # the handshake was logged...
    assert "auth_id=***" in client_log
    for secret in ("t0p-secret", "m0dal", "qu3ry"):
        assert secret not in client_log  # ...without the secrets


# --- run_stream ---------------------------------------------------------------------------


async def test_run_stream_sends_everything_then_end_and_passes_messages_on() -> None:
    got: list[ServerMessage] = []
    async with stream_server(echo_words) as url, StreamClient.connect(Endpoint(url)) as stream:
        await run_stream(stream, frames_of(1920, 1920, 7), got.append)
    assert got == [Ready(), Token(" n1920"), Token(" n1920"), Token(" n7"), VadEnd(), End()]


async def test_run_stream_reports_the_server_error_not_the_send_failure() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        await send(ws, Error("bad audio", ErrorCode.BAD_AUDIO))
        await ws.close(ErrorCode.BAD_AUDIO.close_code)

    async def endless() -> AsyncIterator[Samples]:
        while True:
            yield np.zeros(FRAME_SAMPLES, dtype=np.float32)
            await asyncio.sleep(0.001)

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(StreamError) as caught:
            await run_stream(stream, endless(), lambda message: None)
    assert caught.value.code is ErrorCode.BAD_AUDIO


async def test_run_stream_propagates_a_failing_frame_source() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async def broken() -> AsyncIterator[Samples]:
        yield np.zeros(FRAME_SAMPLES, dtype=np.float32)
        raise OSError("microphone unplugged")

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(OSError, match="unplugged"):
            await run_stream(stream, broken(), lambda message: None)


async def test_run_stream_gives_up_when_end_is_not_answered() -> None:
    async def handler(ws: ServerConnection) -> None:
        async for _ in ws:
            pass

    async with stream_server(handler) as url, StreamClient.connect(Endpoint(url)) as stream:
        with pytest.raises(DrainTimeout):
            await run_stream(stream, frames_of(10), lambda message: None, drain_timeout=0.2)


class OriginalService:
    """The original service's wire behaviour (tests/support/original_proxy.py has the whole
    proxy): no protocol header, no ready; a word without a space per audio message; closes on
    a text message."""

    def __init__(self) -> None:
        self.samples = 0
        self.text_messages = 0
        self.silent_tail = 0  # zero samples received after the last non-zero one

    async def handler(self, ws: ServerConnection) -> None:
        async for data in ws:
            if isinstance(data, str):
                self.text_messages += 1
                return
            pcm = pcm_from_bytes(data)
            self.samples += len(pcm)
            loud = np.flatnonzero(pcm)
            self.silent_tail = len(pcm) - 1 - loud[-1] if len(loud) else self.silent_tail + len(pcm)
            if len(loud):
                await ws.send(json.dumps({"type": "token", "text": f"w{self.samples}"}))


async def test_a_server_without_the_protocol_header_is_the_original_service() -> None:
    """Audio at once (no ready awaited), words spaced, and at release silence to cover the
    model delay instead of `end`; the stream ends once no word has come for a model delay."""
    service = OriginalService()
    loud = np.full(FRAME_SAMPLES + 100, 0.5, dtype=np.float32)
    async with (
        stream_server(service.handler, announce=False) as url,
        open_v1_stream(Endpoint(url)) as stream,
    ):
        assert stream.legacy
        await stream.send_audio(loud)
        await stream.send_audio(loud)
        await stream.end()
        messages = await collect(stream)
    n = len(loud)
    assert messages == [Ready(), Token(f" w{n}"), Token(f" w{2 * n}"), End()]
    assert service.text_messages == 0
    assert service.samples % FRAME_SAMPLES == 0  # the last partial frame is padded
    assert service.silent_tail >= STT_1B.delay_frames * FRAME_SAMPLES


async def test_a_server_that_names_the_protocol_gets_end() -> None:
    async with stream_server(echo_words) as url, StreamClient.connect(Endpoint(url)) as stream:
        assert not stream.legacy
        assert await end_and_collect(stream) == [Ready(), VadEnd(), End()]  # end was sent


@pytest.mark.parametrize(
    ("announce", "protocol", "legacy"),
    [
        (True, ServerProtocol.ORIGINAL, True),
        (False, ServerProtocol.CURRENT, False),
        (True, ServerProtocol.AUTO, False),
        (False, ServerProtocol.AUTO, True),
    ],
)
async def test_the_setting_can_force_the_protocol(
    announce: bool, protocol: ServerProtocol, legacy: bool
) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with (
        stream_server(handler, announce=announce) as url,
        open_v1_stream(Endpoint(url), protocol=protocol) as stream,
    ):
        assert stream.legacy is legacy


async def test_the_original_service_closing_after_release_is_a_clean_end() -> None:
    """Its 30 s receive timeout (or any close with a close frame) after the audio ended."""

    async def handler(ws: ServerConnection) -> None:
        async for data in ws:
            assert isinstance(data, bytes)
            if not np.any(pcm_from_bytes(data)):  # the silence sent at release
                await ws.send(json.dumps({"type": "token", "text": "last"}))
                await ws.close()
                return

    async with (
        stream_server(handler, announce=False) as url,
        open_v1_stream(Endpoint(url), model=STT_2_6B) as stream,
    ):
        await stream.send_audio(np.ones(FRAME_SAMPLES, dtype=np.float32))
        await stream.end()
        assert await collect(stream) == [Ready(), Token(" last"), End()]


async def test_the_original_service_closing_before_release_is_an_error() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close()

    async with (
        stream_server(handler, announce=False) as url,
        open_v1_stream(Endpoint(url)) as stream,
    ):
        with pytest.raises(StreamClosed, match="before the stream ended"):
            await collect(stream)


async def test_a_header_websockets_refuses_is_reported_without_its_value() -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with stream_server(handler) as url:
        endpoint = Endpoint(url, (("Authorization", "Bearer s3cret\nline2"),))
        with pytest.raises(ConnectError) as failed:
            async with StreamClient.connect(endpoint):
                pass
    assert "the Authorization header is invalid" in str(failed.value)
    assert "s3cret" not in str(failed.value)
