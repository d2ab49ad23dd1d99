"""Start the app at login: an XDG autostart entry on Linux (and other freedesktop systems).

``$XDG_CONFIG_HOME/autostart/kyutai-dictate.desktop`` (``~/.config`` when unset), written
atomically when enabled and removed when disabled; both are idempotent. Windows (a Run key or a
Startup-folder shortcut) and macOS (a LaunchAgent) are not supported yet: enabling raises
:class:`AutostartError` saying so, disabling does nothing there.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from app.core.errors import AppError
from app.desktop.atomic_file import write_atomically

FILE_NAME = "kyutai-dictate.desktop"
ICON_NAME = "kyutai-dictate"  # installed as hicolor/scalable/apps/kyutai-dictate.svg
_FREEDESKTOP = ("linux", "freebsd", "openbsd", "netbsd", "dragonfly", "sunos")
# Characters that make the Desktop Entry spec require quoting an Exec argument.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = frozenset('"`$\\')


class AutostartError(AppError):
    """Start at login cannot be set up here; the message says why."""


def supported(platform: str = sys.platform) -> bool:
    """Whether start at login works on ``platform`` (a ``sys.platform`` value)."""
    return platform.startswith(_FREEDESKTOP)


def launch_command(
    executable: str = sys.executable,
    frozen: bool | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    """The command that starts this app: ``python -m app``, or for a bundle its launcher on
    PATH (``/usr/bin/kyutai-dictate`` from the .deb) when that leads to this bundle's
    executable, else the executable itself."""
    if frozen is None:
        frozen = bool(getattr(sys, "frozen", False))
    if not frozen:
        return [executable, "-m", "app"]
    launcher = which("kyutai-dictate")
    if launcher and os.path.realpath(launcher) == os.path.realpath(executable):
        return [launcher]
    return [executable]


def autostart_path(env: Mapping[str, str]) -> Path:
    """Where the autostart entry goes (``$XDG_CONFIG_HOME``, ignored unless absolute)."""
    config = env.get("XDG_CONFIG_HOME", "")
    if not config or not os.path.isabs(config):
        home = env.get("HOME") or str(Path.home())
        config = os.path.join(home, ".config")
    return Path(config) / "autostart" / FILE_NAME


def desktop_entry(command: Sequence[str], icon: str = ICON_NAME) -> str:
    """The text of a ``.desktop`` entry that runs ``command`` (argv, quoted for ``Exec``)."""
    if not command:
        raise ValueError("the command is empty")
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=Kyutai Dictate\n"
        "Comment=Push-to-talk dictation into any window with Kyutai's speech-to-text\n"
        f"Exec={exec_line(command)}\n"
        f"Icon={_escape_value(icon)}\n"
        "Terminal=false\n"
        "Categories=Utility;Accessibility;\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def exec_line(command: Sequence[str]) -> str:
    """``command`` as the value of an ``Exec`` key, per the Desktop Entry spec: arguments with
    reserved characters in double quotes (with ``"`$\\`` escaped), ``%`` doubled, then the
    string escapes (a backslash written twice) applied to the whole value."""
    return _escape_value(" ".join(_quote(arg) for arg in command))


def set_autostart(
    enabled: bool,
    command: Sequence[str],
    env: Mapping[str, str],
    platform: str = sys.platform,
    icon: str = ICON_NAME,
) -> None:
    """Write (``enabled``) or remove the autostart entry. Raises :class:`AutostartError` when
    enabling on an unsupported platform or when the file cannot be written or removed."""
    if not supported(platform):
        if enabled:
            raise AutostartError(f"start at login is not supported yet on {_platform(platform)}")
        return
    path = autostart_path(env)
    try:
        if enabled:
            write_atomically(path, desktop_entry(command, icon))
        else:
            path.unlink(missing_ok=True)
    except OSError as exc:
        action = "write" if enabled else "remove"
        raise AutostartError(f"cannot {action} {path}: {exc.strerror or exc}") from None


def _quote(arg: str) -> str:
    if "\n" in arg or "\r" in arg:
        raise ValueError(f"an Exec argument cannot contain a line break: {arg!r}")
    arg = arg.replace("%", "%%")
    if arg and not any(c in _RESERVED for c in arg):
        return arg
    return '"' + "".join(f"\\{c}" if c in _ESCAPED_IN_QUOTES else c for c in arg) + '"'


def _escape_value(value: str) -> str:
    """The spec's escapes for string values (applied before the Exec quoting is undone)."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _platform(platform: str) -> str:
    if platform.startswith("win"):
        return "Windows"
    if platform == "darwin":
        return "macOS"
    return platform
