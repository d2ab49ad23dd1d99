"""Which typing backend ``auto`` picks for a platform, a session and the installed tools."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.core.desktop_session import session_kind
from app.core.errors import AppError
from app.core.settings import TypingMethod
from app.desktop.typists.base import TypingError
from app.desktop.typists.choose import Probes, resolve_method

X11 = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}
WAYLAND = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}


def installed(*programs: str) -> Callable[[str], str | None]:
    return lambda program: f"/usr/bin/{program}" if program in programs else None


# ydotoold running, no portal, no writable uinput
DAEMON = Probes(portal_keyboard=lambda env: False, uinput=lambda: False, ydotoold=lambda env: True)
PORTAL = Probes(portal_keyboard=lambda env: True, uinput=lambda: False, ydotoold=lambda env: True)


def auto(
    platform: str,
    env: dict[str, str],
    which: Callable[[str], str | None],
    probes: Probes = DAEMON,
) -> TypingMethod:
    return resolve_method(TypingMethod.AUTO, platform, env, which, probes)


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_windows_and_macos_use_pynput_whatever_the_environment(platform: str) -> None:
    assert auto(platform, {}, installed()) is TypingMethod.PYNPUT
    assert auto(platform, X11, installed("xdotool", "wtype")) is TypingMethod.PYNPUT


@pytest.mark.parametrize(
    "env",
    [
        X11,
        {"DISPLAY": ":1"},  # no XDG_SESSION_TYPE (startx, Xvfb)
        {"DISPLAY": ":0", "XDG_SESSION_TYPE": "tty"},
        {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "x11"},
    ],
)
def test_x11_sessions_use_xtest(env: dict[str, str]) -> None:
    assert auto("linux", env, installed("xdotool", "wtype", "ydotool")) is TypingMethod.XTEST


@pytest.mark.parametrize(
    "env",
    [
        WAYLAND,
        {"WAYLAND_DISPLAY": "wayland-1"},
        {"XDG_SESSION_TYPE": "wayland"},
        {"XDG_SESSION_TYPE": "Wayland", "DISPLAY": ":0"},
        {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"},  # XWayland's DISPLAY does not count
    ],
)
def test_wayland_sessions_prefer_wtype_then_ydotool(env: dict[str, str]) -> None:
    assert auto("linux", env, installed("wtype", "ydotool")) is TypingMethod.WTYPE
    assert auto("linux", env, installed("ydotool", "xdotool")) is TypingMethod.YDOTOOL


def test_wayland_without_a_tool_says_what_to_install() -> None:
    with pytest.raises(TypingError, match=r"apt install wtype.*apt install ydotool"):
        auto("linux", WAYLAND, installed("xdotool"))


@pytest.mark.parametrize(
    "env", [{}, {"DISPLAY": ""}, {"XDG_SESSION_TYPE": "tty"}, {"XDG_SESSION_TYPE": "x11"}]
)
def test_no_display_at_all_is_an_error(env: dict[str, str]) -> None:
    with pytest.raises(TypingError, match="neither DISPLAY nor WAYLAND_DISPLAY"):
        auto("linux", env, installed("xdotool", "wtype", "ydotool"))


@pytest.mark.parametrize("method", [m for m in TypingMethod if m is not TypingMethod.AUTO])
@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_an_explicit_method_is_kept(method: TypingMethod, platform: str) -> None:
    assert resolve_method(method, platform, {}, installed()) is method


def test_which_is_asked_only_for_wayland_tools() -> None:
    asked: list[str] = []

    def which(program: str) -> str | None:
        asked.append(program)
        return None

    auto("linux", X11, which)
    auto("win32", {}, which)
    assert asked == []


def test_session_kind() -> None:
    assert session_kind(X11) == "x11"
    assert session_kind(WAYLAND) == "wayland"
    assert session_kind({}) is None


def test_typing_error_is_an_app_error() -> None:
    assert issubclass(TypingError, AppError)


@pytest.mark.parametrize("desktop", ["GNOME", "ubuntu:GNOME", "KDE"])
def test_gnome_and_kde_prefer_the_portal_then_ydotool_never_wtype(desktop: str) -> None:
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": desktop}
    both = {"wtype": "/usr/bin/wtype", "ydotool": "/usr/bin/ydotool"}.get
    assert auto("linux", env, both, PORTAL) is TypingMethod.PORTAL
    assert auto("linux", env, both, DAEMON) is TypingMethod.YDOTOOL
    nothing = Probes(lambda env: False, lambda: False, lambda env: False)
    with pytest.raises(TypingError, match=r"portal offers no keyboard.*ydotoold is not running"):
        auto("linux", env, both, nothing)


def test_wlroots_desktops_prefer_wtype() -> None:
    env = {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "sway"}
    both = {"wtype": "/usr/bin/wtype", "ydotool": "/usr/bin/ydotool"}.get
    assert auto("linux", env, both, PORTAL) is TypingMethod.WTYPE


def test_the_portal_is_asked_only_on_desktops_where_it_is_a_route() -> None:
    asked: list[str] = []

    def portal(env: object) -> bool:
        asked.append("portal")
        return True

    probes = Probes(portal_keyboard=portal, uinput=lambda: False, ydotoold=lambda env: True)
    sway = {"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "sway"}
    assert auto("linux", sway, installed("wtype"), probes) is TypingMethod.WTYPE
    assert asked == []
    kde = {"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "KDE"}
    assert auto("linux", kde, installed("wtype"), probes) is TypingMethod.PORTAL
    assert asked == ["portal"]
