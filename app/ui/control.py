"""One running app per user, and the commands other processes send it.

The first instance listens on a local socket (a Unix socket in the user's runtime directory,
a named pipe on Windows). ``kyutai-dictate COMMAND`` (one of :data:`COMMANDS`) connects,
sends one line and reads one line back: ``ok`` or ``error: ...``. A second ``kyutai-dictate``
sends ``show`` and exits, so the first one shows itself.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import platformdirs
from PySide6.QtCore import QLockFile
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.core.errors import AppError

log = logging.getLogger(__name__)

COMMANDS = ("toggle", "start", "stop", "show", "quit", "type-held", "copy-held")
TIMEOUT_MS = 2000


class ControlError(AppError):
    """No running app to talk to, or it answered with an error."""


def control_address(env: Mapping[str, str] = os.environ) -> str:
    """Where this user's running app listens."""
    if sys.platform == "win32":
        return f"kyutai-dictate-{env.get('USERNAME', 'user')}"
    runtime = env.get("XDG_RUNTIME_DIR") or platformdirs.user_runtime_dir("kyutai-dictate")
    Path(runtime).mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(Path(runtime) / "kyutai-dictate.sock")


def send_command(command: str, address: str | None = None) -> str:
    """Send ``command`` to the running app; its answer (``ok``...). Raises :class:`ControlError`."""
    if command not in COMMANDS:
        raise ControlError(f"unknown command {command!r}; one of {', '.join(COMMANDS)}")
    socket = QLocalSocket()
    socket.connectToServer(address or control_address())
    if not socket.waitForConnected(TIMEOUT_MS):
        raise ControlError("kyutai-dictate is not running (start it first)")
    socket.write(f"{command}\n".encode())
    socket.waitForBytesWritten(TIMEOUT_MS)
    answer = b""
    while not answer.endswith(b"\n") and socket.waitForReadyRead(TIMEOUT_MS):
        answer += bytes(socket.readAll().data())
    socket.disconnectFromServer()
    reply = answer.decode(errors="replace").strip()
    if not reply:
        raise ControlError("the running kyutai-dictate did not answer")
    if reply.startswith("error:"):
        raise ControlError(reply.removeprefix("error:").strip())
    return reply


class ControlServer:
    """Listens for commands; ``handle(command)`` returns the answer line (``ok`` or an error)."""

    def __init__(self, handle: Callable[[str], str], address: str | None = None) -> None:
        self._handle = handle
        self._address = address or control_address()
        self._lock = QLockFile(f"{self._address}.lock")
        self._lock.setStaleLockTime(0)  # a lock is stale only when its process is gone
        self._server = QLocalServer()
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Start listening; False when another instance runs (it holds the lock file)."""
        if not self._lock.tryLock(0):
            if self._lock.error() == QLockFile.LockError.LockFailedError:
                return False
            raise ControlError(f"cannot create {self._address}.lock: {self._lock.error()}")
        QLocalServer.removeServer(self._address)  # a stale socket of a crashed instance
        if not self._server.listen(self._address):
            raise ControlError(f"cannot listen on {self._address}: {self._server.errorString()}")
        return True

    def close(self) -> None:
        self._server.close()
        self._lock.unlock()

    def _accept(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        command = bytes(socket.readLine().data()).decode(errors="replace").strip()
        if command in COMMANDS:
            try:
                answer = self._handle(command)
            except Exception as exc:
                log.exception("control command %r failed", command)
                answer = f"error: {exc}"
        else:
            answer = f"error: unknown command {command[:40]!r}"
        socket.write(f"{answer}\n".encode())
        socket.flush()
