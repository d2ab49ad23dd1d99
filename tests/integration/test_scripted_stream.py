"""The scripted ``/v1/stream`` server refuses a bad message as the proxy does: a JSON
``error`` with its code, then a close with that code's close code (server/proxy/relay.py)."""

from __future__ import annotations

import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.protocol import ErrorCode
from tests.support.scripted_stream import scripted_stream


async def test_a_bad_message_gets_an_error_then_a_close() -> None:
    async with scripted_stream([" hello"]) as script, connect(script.url) as ws:
        assert json.loads(await ws.recv())["type"] == "ready"
        await ws.send('{"type": "no such message"}')
        error = json.loads(await ws.recv())
        assert error["type"] == "error"
        assert error["code"] == ErrorCode.BAD_MESSAGE.value
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == ErrorCode.BAD_MESSAGE.close_code
