"""A real Wayland desktop for tests: headless sway as an unprivileged user (``nobody`` when
the tests run as root, as CI does; otherwise the tests' own user), swaybar as the
tray host (StatusNotifierItem), a private session D-Bus both users reach, and a relay for the
commands sway's key bindings run.

sway refuses to run as root, so it runs as ``nobody`` in a runtime directory of its own;
clients (the app, the target window, wtype, grim) run as this user with
``WAYLAND_DISPLAY`` set to the absolute path of sway's socket. A binding runs its command as
sway's user, who cannot run this user's Python: the ``kyutai-dictate`` on sway's PATH is a
shim that writes its arguments to a FIFO, and :class:`Relay` runs ``kyutai-dictate ARGS``
(``python -m app``) for them, as this user, in the app's environment, in order.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.desktop import ROOT, Desktop
from tests.support.pulse import virtual_microphone

SWAY_UID = 65534  # nobody; a test run by another user runs sway as itself
AS_ROOT = os.geteuid() == 0
TOOLS = ("sway", "swaymsg", "swaybar", "wtype", "grim", "dbus-daemon", "setpriv")
APP_ID = "kyutai-dictate"

SWAY_CONFIG = """\
xwayland disable
output HEADLESS-1 resolution 1280x720 position 0 0
"""
BAR = """\
bar {
    position top
    tray_output *
}
"""

# The session bus's own config plus a policy that lets sway's user and this one connect
# (by default a session bus only admits the user who started it).
BUS_CONFIG = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <include>/usr/share/dbus-1/session.conf</include>
  <listen>unix:path={socket}</listen>
  <policy context="default"><allow user="*"/></policy>
</busconfig>
"""

SHIM = """\
#!/bin/sh
# Relays `kyutai-dictate ARGS` from sway's user to the test's user (tests/support/sway.py).
printf '%s\\n' "$*" > {fifo}
"""


@dataclass
class Relay:
    """Runs ``python -m app ARGS`` for each line the shim writes, one after another."""

    fifo: Path
    env: dict[str, str]
    done: list[tuple[str, int, str]] = field(default_factory=list)  # (args, status, output)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="sway-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with open(self.fifo, "w") as fifo:
            fifo.write("\0quit\n")
        if self._thread is not None:
            self._thread.join(20)

    def _serve(self) -> None:
        # Opened for reading and writing: the FIFO never reports end of file between shims.
        with open(os.open(self.fifo, os.O_RDWR), encoding="utf-8") as fifo:
            for line in fifo:
                args = line.strip()
                if args == "\0quit":
                    return
                run = subprocess.run(
                    [sys.executable, "-m", "app", *args.split()],
                    cwd=ROOT,
                    env=self.env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                self.done.append((args, run.returncode, run.stdout + run.stderr))


@dataclass
class WaylandDesktop(Desktop):
    """A :class:`Desktop` whose display is sway: ``env`` is for clients of this user."""

    sway_dir: Path = Path()  # sway's runtime and home directory (owned by sway's user)
    relay: Relay | None = None

    @property
    def sway_config_home(self) -> Path:
        """Sway's XDG_CONFIG_HOME: ``kyutai-dictate shortcut --install`` writes here."""
        return self.sway_dir / "config"

    def swaymsg(self, *args: str) -> str:
        done = subprocess.run(
            ["swaymsg", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"swaymsg {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def tree(self) -> dict[str, object]:
        tree: dict[str, object] = json.loads(self.swaymsg("-t", "get_tree", "--raw"))
        return tree

    def windows(self) -> list[dict[str, object]]:
        """Every window (a node with an app_id), tiled or floating."""
        found: list[dict[str, object]] = []

        def walk(node: dict[str, object]) -> None:
            if node.get("app_id") is not None:
                found.append(node)
            for key in ("nodes", "floating_nodes"):
                children = node.get(key) or []
                assert isinstance(children, list)
                for child in children:
                    walk(child)

        walk(self.tree())
        return found

    def focused(self) -> dict[str, object] | None:
        return next((w for w in self.windows() if w.get("focused")), None)

    def wtype(self, *args: str) -> None:
        subprocess.run(["wtype", *args], env=self.env, check=True, timeout=30)

    def screenshot(self, path: Path, window: str = "") -> None:
        subprocess.run(["grim", str(path)], env=self.env, check=True)

    def tray_items(self) -> list[str]:
        """The StatusNotifierItems registered with swaybar's watcher."""
        reply = subprocess.run(
            ["dbus-send", "--session", "--print-reply=literal",
             "--dest=org.kde.StatusNotifierWatcher", "/StatusNotifierWatcher",
             "org.freedesktop.DBus.Properties.Get", "string:org.kde.StatusNotifierWatcher",
             "string:RegisteredStatusNotifierItems"],
            env=self.env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return [word for word in reply.split() if "/" in word or word.startswith(":")]


def _run_as_sway_user(path: Path) -> None:
    if AS_ROOT:
        os.chown(path, SWAY_UID, SWAY_UID)


@contextmanager
def _session_bus(directory: Path, env: dict[str, str]) -> Iterator[str]:
    """A session bus both users may use; yields its address."""
    socket = directory / "bus"
    config = directory / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket))
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        if not address:
            raise RuntimeError("dbus-daemon did not start")
        yield address
    finally:
        bus.terminate()
        bus.wait(10)


def _wait(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _sway(sway_dir: Path, bus: str, log: Path, tray: bool) -> Iterator[subprocess.Popen[bytes]]:
    config_dir = sway_dir / "config" / "sway"
    (config_dir / "config.d").mkdir(parents=True)
    (config_dir / "config").write_text(SWAY_CONFIG + (BAR if tray else ""))
    for path in (sway_dir, sway_dir / "config", config_dir, config_dir / "config.d"):
        _run_as_sway_user(path)
    env = {
        "PATH": f"{sway_dir / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(sway_dir),
        "XDG_RUNTIME_DIR": str(sway_dir),
        "XDG_CONFIG_HOME": str(sway_dir / "config"),
        "DBUS_SESSION_BUS_ADDRESS": bus,
        "WLR_BACKENDS": "headless",
        "WLR_RENDERER": "pixman",
        "WLR_LIBINPUT_NO_DEVICES": "1",
        "LANG": "C.UTF-8",
    }
    setpriv = ["setpriv", f"--reuid={SWAY_UID}", f"--regid={SWAY_UID}", "--clear-groups"]
    setpriv = setpriv if AS_ROOT else []
    with open(log, "wb") as out:
        sway = subprocess.Popen(
            [*setpriv, "sway", "-c", str(config_dir / "config")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:

        def ready() -> bool:
            return (sway_dir / "wayland-1").exists() and any(sway_dir.glob("sway-ipc.*"))

        _wait(lambda: ready() or sway.poll() is not None, "sway")
        if sway.poll() is not None:
            raise RuntimeError(f"sway exited:\n{log.read_text()[-2000:]}")
        yield sway
    finally:
        sway.terminate()
        try:
            sway.wait(10)
        except subprocess.TimeoutExpired:
            sway.kill()
            sway.wait(10)


@contextmanager
def sway_desktop(home: Path, tray: bool = True) -> Iterator[WaylandDesktop]:
    """Headless sway with a tray host (swaybar, unless ``tray`` is False), D-Bus, a virtual
    microphone and the relay."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} missing: run the README's test command")
    home.mkdir(parents=True, exist_ok=True)
    shared = Path(tempfile.mkdtemp(prefix="kd-wayland-"))  # reachable by sway's user
    try:
        shared.chmod(0o755)
        sway_dir = shared / "sway"
        sway_dir.mkdir(mode=0o700)
        (sway_dir / "bin").mkdir()
        fifo = shared / "relay.fifo"
        os.mkfifo(fifo)
        fifo.chmod(0o622)
        shim = sway_dir / "bin" / "kyutai-dictate"
        shim.write_text(SHIM.format(fifo=fifo))
        shim.chmod(0o755)
        _run_as_sway_user(sway_dir / "bin")
        with virtual_microphone(home / "runtime") as mic:
            env = {
                **mic.env,
                "HOME": str(home),
                # sway's own: `kyutai-dictate shortcut --install` writes its bindings there
                # (the app's settings file is given with --config, see Desktop.config).
                "XDG_CONFIG_HOME": str(sway_dir / "config"),
                "XDG_STATE_HOME": str(home / "state"),
                "XDG_CACHE_HOME": str(home / "cache"),
                "PYTHON_KEYRING_BACKEND": "tests.support.file_keyring.FileKeyring",
                "KYUTAI_TEST_KEYRING_FILE": str(home / "keyring.json"),
                "PYTHONPATH": str(ROOT),
                "LANG": "C.UTF-8",
            }
            for variable in ("DISPLAY", "WAYLAND_DISPLAY", "SWAYSOCK", "XDG_CURRENT_DESKTOP"):
                env.pop(variable, None)
            (Path(env["XDG_RUNTIME_DIR"])).chmod(0o700)
            with _session_bus(shared, env) as bus, _sway(sway_dir, bus, home / "sway.log", tray):
                sockets = list(sway_dir.glob("sway-ipc.*.sock"))
                env.update(
                    DBUS_SESSION_BUS_ADDRESS=bus,
                    WAYLAND_DISPLAY=str(sway_dir / "wayland-1"),
                    SWAYSOCK=str(sockets[0]) if sockets else "",
                    XDG_SESSION_TYPE="wayland",
                    XDG_CURRENT_DESKTOP="sway",
                    QT_QPA_PLATFORM="wayland",
                    # The shim first: `shortcut --install` writes its path into the bindings.
                    PATH=f"{sway_dir / 'bin'}:{os.environ.get('PATH', os.defpath)}",
                )
                relay = Relay(fifo, env)
                session = WaylandDesktop(env, home, mic, sway_dir=sway_dir, relay=relay)
                if tray:
                    _wait(lambda: _has_owner(env, "org.kde.StatusNotifierWatcher"), "the tray")
                relay.start()
                try:
                    yield session
                finally:
                    relay.stop()
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _has_owner(env: dict[str, str], name: str) -> bool:
    reply = subprocess.run(
        ["dbus-send", "--session", "--print-reply=literal", "--dest=org.freedesktop.DBus",
         "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return "true" in reply.stdout
