"""How to open a stream to the configured backend: this project's proxy or the original
service (``/v1/stream``, with the protocol setting), or a moshi-server spoken to directly,
with the model it serves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.backend.stream import ConnectStream, Stream
from app.core.endpoint import Endpoint
from app.core.settings import BackendKind, BackendSettings
from server.models import model_profile


def stream_connector(backend: BackendSettings) -> ConnectStream:
    """``connect(endpoint, open_timeout)`` for ``backend``'s protocol."""
    if backend.kind is BackendKind.MOSHI:
        from app.backend.moshi_client import MoshiStreamClient

        model = model_profile(backend.model)

        @asynccontextmanager
        async def open_moshi(endpoint: Endpoint, open_timeout: float) -> AsyncIterator[Stream]:
            async with MoshiStreamClient.connect(
                endpoint, model=model, open_timeout=open_timeout
            ) as stream:
                yield stream

        return open_moshi

    from app.backend.stream_client import StreamClient

    protocol, model = backend.protocol, model_profile(backend.model)  # checked by endpoint_for

    @asynccontextmanager
    async def open_proxy(endpoint: Endpoint, open_timeout: float) -> AsyncIterator[Stream]:
        async with StreamClient.connect(
            endpoint, protocol=protocol, model=model, open_timeout=open_timeout
        ) as stream:
            yield stream

    return open_proxy
