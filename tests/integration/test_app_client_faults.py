"""The app's stream client when the proxy fails under it (ISSUE 14, section 2): the proxy
process killed mid-dictation, then started again. The client must raise a clear
:class:`StreamClientError` (no hang, no crash) and the next stream must work."""

from __future__ import annotations

import asyncio
import signal

import numpy as np
import pytest

from app.backend.stream_client import StreamClient, StreamClientError
from app.core.endpoint import Endpoint
from server.protocol.stream import Ready, Token
from tests.conftest import DoubleFactory, words_of
from tests.integration.test_proxy_server import free_port, serve_process, wait_listening
from tests.support.speech import SENTENCES


async def dictate(url: str, audio: np.ndarray) -> list[str]:
    words = []
    async with StreamClient.connect(Endpoint(url)) as stream:
        await stream.send_audio(audio)
        await stream.end()
        async for message in stream.messages():
            if isinstance(message, Token):
                words.append(message.text.strip())
    return words


async def test_a_proxy_killed_mid_dictation_is_a_clear_error_and_the_next_one_works(
    moshi_double: DoubleFactory, two_sentences: np.ndarray
) -> None:
    async with moshi_double() as double:
        port = free_port()
        url = f"ws://127.0.0.1:{port}/v1/stream"
        process = serve_process("--port", str(port), "--backend", double.url)
        try:
            await wait_listening(port, process)
            async with StreamClient.connect(Endpoint(url)) as stream:
                await stream.send_audio(two_sentences[:24000])
                messages = stream.messages()
                assert isinstance(await anext(messages), Ready)
                process.send_signal(signal.SIGKILL)
                with pytest.raises(StreamClientError):
                    await asyncio.wait_for(anext(messages), 30)  # no hang
        finally:
            process.kill()
            await asyncio.to_thread(process.communicate)
        restarted = serve_process("--port", str(port), "--backend", double.url)
        try:
            await wait_listening(port, restarted)
            assert await dictate(url, two_sentences) == words_of(SENTENCES[:2])
        finally:
            restarted.kill()
            await asyncio.to_thread(restarted.communicate)
