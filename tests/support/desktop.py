"""A whole desktop session for testing the app for real: Xvfb, a tray host (trayer), a
session D-Bus, PulseAudio with a virtual microphone, a target window and the app itself.

Everything runs with its own ``HOME``, XDG directories and a file-backed keyring, so the
app under test never touches the user's settings or secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.core.settings import BackendKind, BackendSettings, Settings
from app.desktop import settings_store
from tests.support.pulse import VirtualMicrophone, virtual_microphone
from tests.support.scripted_stream import ScriptedStream, scripted_stream
from tests.support.xvfb import xvfb

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Desktop:
    env: dict[str, str]
    home: Path
    mic: VirtualMicrophone

    @property
    def display(self) -> str:
        return self.env["DISPLAY"]

    @property
    def config(self) -> Path:
        return self.home / "config" / "kyutai-dictate" / "config.toml"

    def xdotool(self, *args: str) -> str:
        return subprocess.run(
            ["xdotool", *args], env=self.env, capture_output=True, text=True, check=True
        ).stdout

    def use_backend(self, url: str) -> None:
        """Write a settings file whose backend is the ``/v1/stream`` proxy at ``url``."""
        backend = BackendSettings(BackendKind.PROXY, url=url)
        settings_store.save(Settings(backend), self.config)

    def set_autorepeat(self, on: bool) -> None:
        subprocess.run(["xset", "r", "on" if on else "off"], env=self.env, check=True)

    def store_secret(self, name: str, value: str) -> None:
        """Put a secret in this session's (file-backed) keyring, as the app would find it."""
        path = Path(self.env["KYUTAI_TEST_KEYRING_FILE"])
        data = json.loads(path.read_text()) if path.exists() else {}
        path.write_text(json.dumps({**data, f"kyutai-dictate/{name}": value}))

    def window_tree(self) -> str:
        return subprocess.run(
            ["xwininfo", "-root", "-tree"], env=self.env, capture_output=True, text=True, check=True
        ).stdout

    def window_info(self, window: str) -> str:
        return subprocess.run(
            ["xwininfo", "-id", window], env=self.env, capture_output=True, text=True, check=False
        ).stdout

    def screenshot(self, path: Path, window: str = "root") -> None:
        subprocess.run(["import", "-window", window, str(path)], env=self.env, check=True)


@contextmanager
def desktop(home: Path, display_number: int, tray: bool = True) -> Iterator[Desktop]:
    """A fresh X display with a tray host, D-Bus and a virtual microphone."""
    home.mkdir(parents=True, exist_ok=True)
    with xvfb(display_number) as display, virtual_microphone(home / "runtime") as mic:
        env = {
            **mic.env,
            "DISPLAY": display,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "QT_QPA_PLATFORM": "xcb",
            "PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.FileKeyring",
            "KYUTAI_TEST_KEYRING_FILE": str(home / "keyring.json"),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("WAYLAND_DISPLAY", None)
        env.pop("XDG_SESSION_TYPE", None)
        with _session_bus(env), tray_host(env, tray):
            session = Desktop(env, home, mic)
            session.set_autorepeat(False)  # tests that want it turn it on
            yield session


@contextmanager
def _session_bus(env: dict[str, str]) -> Iterator[None]:
    bus = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        yield
    finally:
        bus.terminate()
        bus.wait(10)


@contextmanager
def tray_host(env: dict[str, str], tray: bool = True) -> Iterator[None]:
    """A tray host (trayer) on the display, ready once it owns the tray selection."""
    if not tray:
        yield
        return
    host = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
         "--height", "24", "--SetDockType", "true", "--transparent", "false"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_tray_manager(env["DISPLAY"])
        yield
    finally:
        host.terminate()
        host.wait(10)


def _wait_for_tray_manager(display_name: str, timeout: float = 10.0) -> None:
    """Until the tray host owns the system tray selection (apps look for that owner)."""
    from Xlib.display import Display

    display = Display(display_name)
    try:
        selection = display.intern_atom(f"_NET_SYSTEM_TRAY_S{display.get_default_screen()}")
        deadline = time.monotonic() + timeout
        while display.get_selection_owner(selection) == 0:
            if time.monotonic() > deadline:
                raise RuntimeError("trayer did not take the system tray selection")
            time.sleep(0.05)
    finally:
        display.close()


@dataclass
class Process:
    """A child process whose output lines are collected as they come."""

    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    def mark(self) -> int:
        """A position in the output: ``wait_for_line(..., after=mark)`` ignores older lines."""
        return len(self.lines)

    async def wait_for_line(self, text: str, timeout: float = 30.0, after: int = 0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if text in line:
                    return line
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.02)
        raise AssertionError(f"no line with {text!r}; output:\n" + "\n".join(self.lines[-40:]))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


@asynccontextmanager
async def spawn(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> AsyncIterator[Process]:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    child = Process(process)

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            child.lines.append(line.decode(errors="replace").rstrip())

    child._readers.append(asyncio.create_task(read()))
    try:
        yield child
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        await asyncio.gather(*child._readers, return_exceptions=True)


def app_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "app", "--log-level", "debug", *args]


@asynccontextmanager
async def running_app(d: Desktop) -> AsyncIterator[Process]:
    """The app with this desktop's settings file, once it listens for the hotkey."""
    async with spawn(app_command("--config", str(d.config)), d.env) as app:
        await app.wait_for_line("listening for the hotkey")
        yield app


@asynccontextmanager
async def scripted_dictation(
    d: Desktop, words: Sequence[str], typed: Path, frames_per_word: int = 3
) -> AsyncIterator[tuple[ScriptedStream, Process]]:
    """A scripted backend saying ``words``, a target window writing to ``typed``, and the
    app using that backend, ready for the hotkey."""
    async with scripted_stream(words, frames_per_word) as script:
        d.use_backend(script.url)
        async with target_window(d.env, typed), running_app(d) as app:
            yield script, app


@asynccontextmanager
async def hotkey_held(d: Desktop, app: Process) -> AsyncIterator[None]:
    """F9 held down, once the app captures, for the body of the ``async with``; then up."""
    mark = app.mark()
    d.xdotool("keydown", "F9")
    try:
        await app.wait_for_line("capturing from", after=mark)
        yield
    finally:
        d.xdotool("keyup", "F9")


@asynccontextmanager
async def target_window(
    env: dict[str, str], out: Path, title: str = "typing target"
) -> AsyncIterator[Process]:
    """A window that receives typed text (its whole text is written to ``out``)."""
    command = [sys.executable, "-m", "tests.support.target_window", str(out), title]
    async with spawn(command, env) as w:
        await w.wait_for_line("focused", 20)
        yield w


def read_text(path: Path) -> str:
    """The file's text, empty if it does not exist yet."""
    return path.read_text(encoding="utf-8") if path.exists() else ""


async def until(condition: Callable[[], bool], timeout: float = 20.0, message: str = "") -> None:
    """Wait until ``condition()`` holds; fail with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out\n{message}"
        await asyncio.sleep(0.02)


async def text_in(path: Path, expected: str, timeout: float = 30.0) -> str:
    """Wait until ``path`` holds ``expected``; return what it holds in the end."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = read_text(path)
        if text == expected:
            return text
        await asyncio.sleep(0.05)
    return text
