"""The global hotkey listener (pynput on a real X server): once ``start()`` returns, a key
pressed at once is seen."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import pytest
import Xlib.ext.record
from Xlib import XK, X
from Xlib.display import Display
from Xlib.ext import xtest

from app.core.hotkey import Intent, Mode, parse_chord
from app.desktop.hotkey_listener import MACOS_PERMISSION, HotkeyError, HotkeyListener
from tests.support.xvfb import xvfb


@pytest.fixture
def display(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with xvfb(92) as name:
        monkeypatch.setenv("DISPLAY", name)
        yield name


@pytest.fixture
def slow_listener_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Delay the listener thread's RECORD enable request, as a loaded machine does: pynput
    (pynput/_util/xorg.py, ``ListenerMixin._run``) marks itself ready, then sends it."""
    enable = Xlib.ext.record.enable_context  # bound to each Display when it is opened

    def late_enable(self: object, context: int, callback: object) -> None:
        time.sleep(0.5)
        enable(self, context, callback)

    monkeypatch.setattr(Xlib.ext.record, "enable_context", late_enable)


async def test_a_key_pressed_as_soon_as_start_returns_is_seen(
    display: str, slow_listener_thread: None
) -> None:
    intents: list[Intent] = []
    stopped = asyncio.Event()

    def on_intent(intent: Intent) -> None:
        intents.append(intent)
        if intent is Intent.STOP:
            stopped.set()

    keyboard = Display(display)
    f9 = keyboard.keysym_to_keycode(XK.XK_F9)
    listener = HotkeyListener(parse_chord("<f9>"), Mode.HOLD, on_intent)
    listener.start()
    try:
        for event in (X.KeyPress, X.KeyRelease):  # XTEST, as a keyboard would
            xtest.fake_input(keyboard, event, f9)
        keyboard.sync()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), 10)
        assert intents == [Intent.START, Intent.STOP]
    finally:
        listener.stop()
        from pynput.keyboard import Listener  # needs DISPLAY at import

        # pynput queues its disable request on the record connection, which sends it once a
        # recorded event wakes it (pynput/_util/xorg.py, _stop_platform): press keys until
        # its thread is done, before the X server goes away.
        threads = [t for t in threading.enumerate() if isinstance(t, Listener)]
        deadline = time.monotonic() + 10
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            for event in (X.KeyPress, X.KeyRelease):
                xtest.fake_input(keyboard, event, f9)
            keyboard.sync()
            for thread in threads:
                thread.join(0.1)
        keyboard.close()
        assert not any(t.is_alive() for t in threads)


async def test_an_untrusted_mac_listener_names_the_permissions_to_grant(display: str) -> None:
    """On macOS without the Accessibility and Input Monitoring permissions, the hotkey says
    what to turn on, rather than listening to nothing or blaming the X server.

    The stand-in is pynput's macOS listener as far as the app sees it (pynput/_util/darwin.py,
    ``ListenerMixin._run``): it sets ``IS_TRUSTED`` from ``AXIsProcessTrusted()``, and when the
    event tap cannot be made (no Input Monitoring) it marks itself ready and its thread ends.
    It runs on pynput's real ``AbstractListener`` (start, wait, join, stop); importing pynput
    needs a display here, hence the X server.
    """
    from pynput._util import AbstractListener

    class UntrustedMacListener(AbstractListener):  # type: ignore[misc]
        IS_TRUSTED = False

        def _run(self) -> None:
            self.IS_TRUSTED = False  # HIServices.AXIsProcessTrusted() answered no
            self._mark_ready()  # _create_event_tap() returned None: nothing to run

        def _stop_platform(self) -> None:
            pass

    listener = HotkeyListener(
        parse_chord("<f9>"), Mode.HOLD, lambda intent: None, listener_class=UntrustedMacListener
    )
    with pytest.raises(HotkeyError) as refused:
        await asyncio.to_thread(listener.start)
    assert str(refused.value) == MACOS_PERMISSION
    assert "Accessibility" in MACOS_PERMISSION
    assert "Input Monitoring" in MACOS_PERMISSION
