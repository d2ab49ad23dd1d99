"""One running app per user, and the commands other processes send it.

The first instance listens on a local socket (a Unix socket in the user's runtime directory,
a named pipe on Windows) at :func:`~app.desktop.control_client.control_address`.
``kyutai-dictate COMMAND`` (a :class:`~app.core.commands.RemoteCommand`) connects with
:func:`~app.desktop.control_client.send_command`, sends one line and reads one line back:
``ok`` or ``error: ...``. A second ``kyutai-dictate`` sends ``show`` and exits, so the first
one shows itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QLockFile
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.core.commands import RemoteCommand
from app.desktop.control_client import ControlError, control_address

log = logging.getLogger(__name__)


class ControlServer:
    """Listens for commands; ``handle(command)`` returns the answer line (``ok`` or an error)."""

    def __init__(self, handle: Callable[[RemoteCommand], str], address: str | None = None) -> None:
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
        # No Python slot holds a socket (PySide6 6.11 aborted with "shared QObject was deleted
        # directly" when such a socket was deleted): ready ones are found among the children.
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self._serve_ready)
            socket.disconnected.connect(socket.deleteLater)
        self._serve_ready()

    def _serve_ready(self) -> None:
        for socket in self._server.findChildren(QLocalSocket):
            if socket.canReadLine():
                self._answer(socket)

    def _answer(self, socket: QLocalSocket) -> None:
        line = bytes(socket.readLine().data()).decode(errors="replace").strip()
        try:
            command = RemoteCommand.named(line)
        except ValueError as exc:
            answer = f"error: {exc}"
        else:
            try:
                answer = self._handle(command)
            except Exception as exc:
                log.exception("control command %r failed", line)
                answer = f"error: {exc}"
        socket.write(f"{answer}\n".encode())
        socket.flush()
