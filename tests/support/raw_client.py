"""A hostile ``/v1/stream`` client on a bare socket: it upgrades, then writes frames of its
choosing (RFC 6455 section 5, framed with the ``websockets`` library's own encoder) and reads
only when told to, so that tests can play a client that never reads, floods pings or lies
about a frame's length. Any transport of the proxy can be tested with it: it speaks only the
wire."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from dataclasses import dataclass

from websockets.frames import Frame, Opcode

from server.protocol import stream


@dataclass
class RawClient:
    sock: socket.socket
    status: int
    head: str  # the HTTP response head, up to the blank line

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def send_frame(self, opcode: Opcode, payload: bytes) -> None:
        await self.send(frame(opcode, payload))

    async def read_some(self, size: int = 65536) -> bytes:
        """Whatever arrives next; b"" at the end of the stream, raises on a reset."""
        return await asyncio.get_running_loop().sock_recv(self.sock, size)

    async def read_until_closed(self) -> bytes:
        """Everything the server sends until it closes the connection (or resets it)."""
        received = bytearray()
        try:
            while chunk := await self.read_some():
                received += chunk
        except ConnectionResetError:
            pass
        return bytes(received)

    def close(self) -> None:
        self.sock.close()


@dataclass
class PlainRequest:
    """A ``GET /v1/stream`` sent on a bare socket, that may never become a WebSocket."""

    sock: socket.socket

    async def status(self) -> int:
        """The HTTP status of the answer (0 if the connection closed first)."""
        loop = asyncio.get_running_loop()
        head = b""
        while b"\r\n" not in head:
            chunk = await loop.sock_recv(self.sock, 1024)
            if not chunk:
                return 0
            head += chunk
        parts = head.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    def reset(self) -> None:
        """Hang up with a TCP reset (SO_LINGER 0), as a crashing client does."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self) -> None:
        self.sock.close()


async def open_plain(port: int, headers: dict[str, str], *, upgrade: bool = False) -> PlainRequest:
    """Send ``GET /v1/stream`` with ``headers``: without the WebSocket upgrade headers (the
    server must refuse it, RFC 6455 section 4.2.1), or with them (``upgrade``), and return
    without reading the answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    lines = [f"GET {stream.PATH} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if upgrade:
        key = base64.b64encode(os.urandom(16)).decode()
        lines += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}"]
        lines += ["Sec-WebSocket-Version: 13"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
    return PlainRequest(sock)


def frame(opcode: Opcode, payload: bytes) -> bytes:
    """One masked client frame."""
    return Frame(opcode, payload).serialize(mask=True)


def huge_frame_header(length: int) -> bytes:
    """The head of a binary frame that announces ``length`` bytes (64-bit length, masked)."""
    return bytes([0x82, 0x80 | 127]) + length.to_bytes(8, "big") + os.urandom(4)


async def open_raw(
    port: int,
    *,
    path: str = stream.PATH,
    headers: tuple[tuple[str, str], ...] = (),
    receive_buffer: int | None = None,
) -> RawClient:
    """Connect to 127.0.0.1:``port`` and send an upgrade request; returns after the response
    head (the status tells whether it was upgraded)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connect, so the window is small from the start
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await loop.sock_recv(sock, 1)  # byte by byte: leave the frames unread
        if not chunk:
            break
        head += chunk
    text = head.decode("latin-1")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/1.1 ") else 0
    return RawClient(sock, status, text)


async def flood_pings(client: RawClient, total_bytes: int, payload: bytes = b"p" * 125) -> int:
    """Send pings (never reading the pongs) until ``total_bytes`` went out or the server cut
    the connection; returns the bytes sent."""
    batch = frame(Opcode.PING, payload) * 512
    sent = 0
    try:
        while sent < total_bytes:
            await client.send(batch)
            sent += len(batch)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def server_frames(data: bytes) -> list[tuple[Opcode, bytes]]:
    """The unmasked frames a server sent, as (opcode, payload); a cut-off last frame is
    dropped."""
    frames = []
    at = 0
    while at + 2 <= len(data):
        opcode, length = Opcode(data[at] & 0x0F), data[at + 1] & 0x7F
        at += 2
        if length == 126:
            length, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif length == 127:
            length, at = int.from_bytes(data[at : at + 8], "big"), at + 8
        if at + length > len(data):
            break
        frames.append((opcode, data[at : at + length]))
        at += length
    return frames
