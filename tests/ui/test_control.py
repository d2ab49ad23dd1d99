"""The Qt-free control client against the app's real control server (a ``QLocalServer``)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from app.core.commands import RemoteCommand
from app.desktop.control_client import ControlError, control_address, send_command
from app.ui.control import ControlServer


@pytest.fixture
def address(tmp_path: Path) -> str:
    return control_address({"XDG_RUNTIME_DIR": str(tmp_path), "USERNAME": tmp_path.name})


@pytest.fixture
def received(qapp: QApplication, address: str) -> Iterator[list[RemoteCommand]]:
    commands: list[RemoteCommand] = []

    def handle(command: RemoteCommand) -> str:
        if command is RemoteCommand.START:
            raise RuntimeError("no microphone")
        commands.append(command)
        return "ok"

    server = ControlServer(handle, address)
    assert server.listen()
    yield commands
    server.close()


def ask(qapp: QApplication, call: Callable[[], str]) -> str | Exception:
    """Run the blocking client in a thread while Qt serves the socket on this one."""
    result: list[str | Exception] = []

    def client() -> None:
        try:
            result.append(call())
        except Exception as exc:
            result.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    while thread.is_alive():
        qapp.processEvents()
        thread.join(0.01)
    return result[0]


def test_every_command_arrives_as_itself(
    qapp: QApplication, address: str, received: list[RemoteCommand]
) -> None:
    sent = [command for command in RemoteCommand if command is not RemoteCommand.START]
    for command in sent:
        assert ask(qapp, lambda c=command: send_command(c, address)) == "ok"
    assert received == sent


def test_a_failing_command_is_an_error_with_its_reason(
    qapp: QApplication, address: str, received: list[RemoteCommand]
) -> None:
    answer = ask(qapp, lambda: send_command("start", address))
    assert isinstance(answer, ControlError)
    assert str(answer) == "no microphone"


def test_an_unknown_command_is_refused_before_it_is_sent(
    qapp: QApplication, address: str, received: list[RemoteCommand]
) -> None:
    answer = ask(qapp, lambda: send_command("reboot", address))
    assert isinstance(answer, ControlError)
    assert "unknown command 'reboot'" in str(answer)
    assert received == []


def test_without_a_server_the_client_says_the_app_is_not_running(address: str) -> None:
    with pytest.raises(ControlError, match="kyutai-dictate is not running"):
        send_command(RemoteCommand.TOGGLE, address)
