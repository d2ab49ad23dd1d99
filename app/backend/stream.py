"""What a stream to the backend offers its users, and how one is connected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.core.endpoint import Endpoint
from server.protocol.stream import ServerMessage


class Stream(Protocol):
    """One open stream (``StreamClient``, ``MoshiStreamClient``): audio in, messages out."""

    @property
    def legacy(self) -> bool:
        """Whether the server speaks the original service's protocol (no ``ready``/``end``)."""
        ...

    async def send_audio(self, samples: npt.NDArray[np.float32]) -> None: ...
    async def end(self) -> None: ...
    def messages(self) -> AsyncIterator[ServerMessage]: ...


# (endpoint, open_timeout) -> the open stream, closed when the context exits
ConnectStream = Callable[[Endpoint, float], AbstractAsyncContextManager[Stream]]
