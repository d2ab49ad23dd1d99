"""The tray's look and tooltip follow the dictation, errors and hotkey health."""

from __future__ import annotations

import pytest

from app.core.session import Phase
from app.core.status import Look, Status


@pytest.mark.parametrize(
    ("phase", "look"),
    [
        (Phase.IDLE, Look.IDLE),
        (Phase.CONNECTING, Look.CONNECTING),
        (Phase.STREAMING, Look.LISTENING),
        (Phase.DRAINING, Look.FINISHING),
    ],
)
def test_each_phase_has_its_look(phase: Phase, look: Look) -> None:
    assert Status(phase=phase).look is look


def test_an_error_shows_until_the_next_dictation() -> None:
    failed = Status(error="the backend refused the credentials")
    assert failed.look is Look.ERROR
    assert failed.describe() == "error: the backend refused the credentials"
    assert Status(phase=Phase.CONNECTING, error="old").look is Look.CONNECTING


def test_idle_text_names_the_hotkey_or_its_problem() -> None:
    assert Status(hotkey="<f9>").describe() == "ready; hold <f9> to dictate"
    broken = Status(hotkey="<f9>", hotkey_problem="no X server")
    assert broken.describe() == "ready; hotkey unavailable (no X server)"


def test_unconfigured_backend_is_an_error_look() -> None:
    status = Status(configured=False)
    assert status.look is Look.ERROR
    assert "open Settings" in status.describe()


def test_the_overlay_says_when_the_server_speaks_the_older_protocol() -> None:
    listening = Status(phase=Phase.STREAMING, older_protocol=True).describe()
    assert listening.startswith("listening")
    assert "the server speaks the older protocol" in listening
    finishing = Status(phase=Phase.DRAINING, older_protocol=True).describe()
    assert "older protocol" in finishing
    assert "older protocol" not in Status(phase=Phase.STREAMING).describe()
