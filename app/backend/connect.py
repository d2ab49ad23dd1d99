"""How to open a stream to the configured backend: this project's proxy or the original
service (``/v1/stream``, with the protocol setting), or a moshi-server spoken to directly,
with the model it serves."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from websockets.asyncio.client import ClientConnection

from app.backend.original_client import OriginalStreamClient
from app.backend.stream import ConnectStream, Stream
from app.backend.stream_client import StreamClient, open_v1_connection
from app.core.endpoint import Endpoint
from app.core.settings import BackendKind, BackendSettings, ServerProtocol
from server.models import STT_1B, ModelProfile, model_profile
from server.protocol.stream import PROTOCOL_HEADER

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_v1_stream(
    endpoint: Endpoint,
    *,
    protocol: ServerProtocol = ServerProtocol.AUTO,
    model: ModelProfile = STT_1B,
    open_timeout: float | None = 10.0,
    close_timeout: float | None = 5.0,
) -> AsyncIterator[StreamClient]:
    """A ``/v1/stream`` to ``endpoint``: this project's proxy, or the original service when its
    101 response does not name this project's protocol (or ``protocol`` says so), whose client
    needs the ``model`` behind it. The connection closes when the block exits. Raises
    :class:`~app.backend.stream_client.ConnectError`."""
    connection = await open_v1_connection(endpoint, open_timeout, close_timeout)
    try:
        if speaks_original(protocol, connection):
            log.info("the server speaks the original service's protocol")
            yield OriginalStreamClient(connection, model)
        else:
            yield StreamClient(connection)
    finally:
        await connection.close()


def speaks_original(protocol: ServerProtocol, connection: ClientConnection) -> bool:
    """Whether the server is the original service: as set, or (``auto``) when its 101 response
    does not name this project's protocol."""
    if protocol is ServerProtocol.AUTO:
        response = connection.response
        return response is None or PROTOCOL_HEADER not in response.headers
    return protocol is ServerProtocol.ORIGINAL


def stream_connector(backend: BackendSettings) -> ConnectStream:
    """``connect(endpoint, open_timeout)`` for ``backend``'s protocol."""
    if backend.kind in (BackendKind.MOSHI, BackendKind.ENGINE):
        from app.backend.moshi_client import MoshiStreamClient

        model = model_profile(backend.model)

        @asynccontextmanager
        async def open_moshi(endpoint: Endpoint, open_timeout: float) -> AsyncIterator[Stream]:
            async with MoshiStreamClient.connect(
                endpoint, model=model, open_timeout=open_timeout
            ) as stream:
                yield stream

        return open_moshi

    protocol, model = backend.protocol, model_profile(backend.model)  # checked by endpoint_for

    @asynccontextmanager
    async def open_proxy(endpoint: Endpoint, open_timeout: float) -> AsyncIterator[Stream]:
        async with open_v1_stream(
            endpoint, protocol=protocol, model=model, open_timeout=open_timeout
        ) as stream:
            yield stream

    return open_proxy
