"""A hostile WebSocket client on a plain socket: it upgrades, then writes frames and reads
nothing, the way a stuck or malicious client behaves.

Frames are built by RFC 6455 section 5.2 (client frames are masked; payload lengths of 7, 16
and 64 bits); the upgrade by section 4.1. A tiny receive buffer makes the proxy's writes back
up at once instead of after megabytes.
"""

from __future__ import annotations

import base64
import os
import socket
import struct

OP_TEXT, OP_BINARY, OP_PING = 0x1, 0x2, 0x9


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame."""
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    mask = os.urandom(4)
    return head + mask + _mask(payload, mask)


def _mask(payload: bytes, mask: bytes) -> bytes:
    if not payload:
        return b""
    repeated = (mask * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        len(payload), "big"
    )


def open_non_reader(
    port: int, path: str = "/v1/stream", headers: dict[str, str] | None = None
) -> socket.socket:
    """A socket upgraded to a WebSocket whose receive buffer is as small as Linux allows; the
    101 answer is read, and nothing after it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
        "",
        "",
    ]
    sock.sendall("\r\n".join(lines).encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(1)  # byte by byte: not one byte past the 101 answer
        if not chunk:
            raise ConnectionError("closed during the upgrade")
        answer += chunk
    if not answer.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(answer.split(b"\r\n", 1)[0].decode())
    return sock
