"""Talk to the running app over its control socket, with the standard library only.

The app (:class:`app.ui.control.ControlServer`, a ``QLocalServer``) listens at
:func:`control_address`: on Unix a socket file at that absolute path, on Windows the named pipe
``\\\\.\\pipe\\NAME`` (Qt's qlocalserver_unix.cpp and qlocalserver_win.cpp). A client sends one
line, a :class:`~app.core.commands.RemoteCommand`, and reads one line back: ``ok`` or
``error: ...``. Loading no Qt keeps ``kyutai-dictate toggle`` (a desktop shortcut) quick.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import platformdirs

from app.core.commands import RemoteCommand
from app.core.errors import AppError

TIMEOUT = 2.0  # seconds to connect, and to wait for the answer
_PIPE_PREFIX = "\\\\.\\pipe\\"
_MAX_ANSWER = 4096


class ControlError(AppError):
    """No running app to talk to, or it answered with an error."""


def control_address(env: Mapping[str, str] = os.environ) -> str:
    """Where this user's running app listens (a path on Unix, a pipe name on Windows)."""
    if sys.platform == "win32":
        return f"kyutai-dictate-{env.get('USERNAME', 'user')}"
    runtime = env.get("XDG_RUNTIME_DIR") or platformdirs.user_runtime_dir("kyutai-dictate")
    Path(runtime).mkdir(parents=True, exist_ok=True, mode=0o700)
    return str(Path(runtime) / "kyutai-dictate.sock")


def send_command(command: RemoteCommand | str, address: str | None = None) -> str:
    """Send ``command`` to the running app; its answer (``ok``...). Raises :class:`ControlError`."""
    try:
        command = RemoteCommand.named(command)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    address = address or control_address()
    request = f"{command}\n".encode()
    try:
        answer = _ask_pipe(address, request) if sys.platform == "win32" else _ask(address, request)
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError("kyutai-dictate is not running (start it first)") from None
    except OSError as exc:  # a permission, a path too long, a timeout...
        raise ControlError(f"cannot reach kyutai-dictate at {address}: {exc}") from None
    reply = answer.decode(errors="replace").strip()
    if not reply:
        raise ControlError("the running kyutai-dictate did not answer")
    if reply.startswith("error:"):
        raise ControlError(reply.removeprefix("error:").strip())
    return reply


def _ask(path: str, request: bytes) -> bytes:
    """One line to the Unix socket at ``path``; the answer line (b"" if none came in time).

    Raises :class:`OSError` only when nothing listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        sock.connect(path)
        answer = b""
        try:
            sock.sendall(request)
            while not answer.endswith(b"\n") and len(answer) < _MAX_ANSWER:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                answer += chunk
        except OSError:  # timed out or dropped: what came so far, if anything
            pass
        return answer


def _ask_pipe(name: str, request: bytes) -> bytes:  # pragma: no cover - Windows only
    """One line to the named pipe ``name``; the answer line (reads block: no timeout)."""
    with open(_PIPE_PREFIX + name, "r+b", buffering=0) as pipe:
        pipe.write(request)
        answer = b""
        while not answer.endswith(b"\n") and len(answer) < _MAX_ANSWER:
            chunk = pipe.read(1024)
            if not chunk:
                break
            answer += chunk
        return answer
