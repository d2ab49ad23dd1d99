"""Sans-I/O wire protocols: bytes in, typed messages out. No sockets, no asyncio, no Qt.

- :mod:`server.protocol.audio`: PCM constants, sanitising and re-framing.
- :mod:`server.protocol.stream`: the public ``/v1/stream`` JSON + raw PCM protocol.
- :mod:`server.protocol.moshi`: moshi-server's msgpack ``/api/asr-streaming`` protocol.
- :mod:`server.protocol.backend_rules`: how a client of moshi-server turns its messages into
  ``/v1/stream`` ones (tokens, flush, errors); shared by the proxy and the app's direct mode.

Every decoder raises :class:`ProtocolError` (and nothing else) for malformed input.
"""

from server.protocol.errors import ErrorCode, ProtocolError, UnknownMessageType

__all__ = ["ErrorCode", "ProtocolError", "UnknownMessageType"]
