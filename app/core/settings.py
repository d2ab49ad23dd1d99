"""The app's one settings model: what is configured, with defaults, and its TOML form.

Pure: no file or keyring access here (see :mod:`app.desktop.settings_store` and
:mod:`app.desktop.secret_store`).
Secrets are never part of the model; it only says which backend they belong to.

The file has one table per section (``[backend]``, ``[dictation]``, ``[overlay]``,
``[startup]``, ``[voice]``, ``[history]``, ``[sounds]``); a key that is missing takes its
default, an unknown key is ignored, a value of the wrong type is an error that names the key.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field, fields, is_dataclass
from enum import Enum, StrEnum
from typing import Any, TypeVar

from server.protocol import modal_url


class BackendKind(StrEnum):
    """Where the speech-to-text backend runs and which protocol and credentials it takes."""

    MODAL = "modal"  # this project's proxy on Modal; Modal proxy auth (key + secret)
    PROXY = "proxy"  # this project's proxy elsewhere (Proxmox, custom); bearer token
    MOSHI = "moshi"  # a moshi-server spoken to directly; kyutai-api-key
    ENGINE = "engine"  # this computer: the app starts `kyutai-dictate engine` and talks to it


class ServerProtocol(StrEnum):
    """Which ``/v1/stream`` protocol a proxy speaks (PROTOCOL.md section 1)."""

    AUTO = "auto"  # ask the server: this project's proxy names itself in its 101 response
    CURRENT = "current"  # this project's proxy: ``ready`` and ``end``
    ORIGINAL = "original"  # the original service (kyutai_modal): no ``ready``, no ``end``


class HotkeyMode(StrEnum):
    HOLD = "hold"  # push-to-talk: dictate while the chord is held
    TOGGLE = "toggle"  # press once to start, once more to stop
    HANDS_FREE = "hands-free"  # press to start; it stops by itself when the speech ends


class TypingMethod(StrEnum):
    """How words reach the focused window (``auto``: the best one for this session)."""

    AUTO = "auto"
    XTEST = "xtest"  # X11: XTEST key events, exact for any Unicode text
    XDOTOOL = "xdotool"
    WTYPE = "wtype"  # Wayland (wlroots compositors)
    YDOTOOL = "ydotool"  # Wayland or console, through uinput (ydotoold)
    DOTOOL = "dotool"  # Wayland or console, through uinput
    PORTAL = "portal"  # Wayland on GNOME and KDE: the RemoteDesktop portal's keyboard
    PYNPUT = "pynput"  # Windows and macOS
    CLIPBOARD = "clipboard"  # paste each phrase; the previous clipboard is restored


class NewlineKey(StrEnum):
    """What "new line" presses (chat apps send the message on Return)."""

    RETURN = "return"
    SHIFT_RETURN = "shift+return"


class SettingsError(ValueError):
    """A settings file that cannot be used; the message says which key and why."""


@dataclass(frozen=True)
class BackendSettings:
    kind: BackendKind | None = None  # None until the user (or `deploy`) configures one
    # proxy or moshi: the WebSocket URL; modal: the app's full URL, which wins over the
    # workspace and label (Modal shortens host names over 63 characters with a hash)
    url: str = ""
    modal_workspace: str = ""
    modal_label: str = "kyutai-dictate"
    # The model a moshi-server spoken to directly serves: its delay and silence prefix
    # differ (kyutai/stt-1b-en_fr or kyutai/stt-2.6b-en). This project's proxy knows its own
    # model; the original service does not say, and its flush at release needs the delay.
    model: str = "kyutai/stt-1b-en_fr"
    protocol: ServerProtocol = ServerProtocol.AUTO  # modal and proxy: which protocol
    checkpoint: str = ""  # engine: a local checkpoint directory (empty: the model's hub repo)

    @property
    def configured(self) -> bool:
        if self.kind is BackendKind.MODAL:
            return bool(self.modal_workspace or self.url)
        if self.kind is BackendKind.ENGINE:
            return True  # its URL is the engine's, known once the app has started it
        return self.kind is not None and bool(self.url)

    def stream_url(self) -> str:
        """The WebSocket URL clients connect to."""
        if self.kind is BackendKind.MODAL and not self.url:
            return modal_url.stream_url(self.modal_workspace, self.modal_label)
        return self.url


@dataclass(frozen=True)
class DictationSettings:
    hotkey: str = "<f9>"  # pynput chord syntax, see app.core.hotkey.parse_chord
    mode: HotkeyMode = HotkeyMode.HOLD
    microphone: str = ""  # input device name ("" = the system default)
    typing: TypingMethod = TypingMethod.AUTO
    leading_space: bool = False  # start each dictation with a space (to continue a sentence)
    focus_guard: bool = True  # pause typing when focus leaves the window it started in
    paste_fallback: bool = False  # auto may paste through the clipboard when nothing can type
    # Hands-free: this long without a word after the model predicts the end of speech
    hands_free_silence: float = 1.0

    def __post_init__(self) -> None:
        if not 0.3 <= self.hands_free_silence <= 10.0:
            raise SettingsError(
                "dictation.hands_free_silence must be between 0.3 and 10 seconds, "
                f"not {self.hands_free_silence}"
            )


@dataclass(frozen=True)
class VoiceSettings:
    """Voice commands ("new line", "scratch that", ...) and the replacement rules (the rules
    themselves are in ``words.txt`` beside the settings file)."""

    commands: bool = True
    replacements: bool = True
    newline: NewlineKey = NewlineKey.RETURN
    pause_seconds: float = 0.6  # a command is a phrase of its own, between such pauses

    def __post_init__(self) -> None:
        if not 0.2 <= self.pause_seconds <= 3.0:
            raise SettingsError(
                f"voice.pause_seconds must be between 0.2 and 3 seconds, not {self.pause_seconds}"
            )


@dataclass(frozen=True)
class OverlaySettings:
    show: bool = True  # show the caption overlay while dictating
    latency: bool = False  # show how far the words are behind the voice
    opacity: float = 0.85
    # Where the user put it: [x, y, width, height]; empty = bottom centre of the screen.
    geometry: tuple[int, ...] = ()


@dataclass(frozen=True)
class StartupSettings:
    at_login: bool = False  # start with the desktop session (XDG autostart on Linux)


@dataclass(frozen=True)
class HistorySettings:
    """What the dictation history keeps (see app/core/history.py)."""

    keep_audio: bool = True  # off: no audio is stored, so nothing can be transcribed again
    audio_count: int = 50  # audio of the newest dictations only...
    audio_days: float = 7.0  # ... no older than this ...
    audio_megabytes: float = 500.0  # ... and no more than this in all
    text_days: float = 90.0


@dataclass(frozen=True)
class SoundSettings:
    cues: bool = True  # short start, stop and error sounds
    volume: float = 0.5  # 0 to 1


@dataclass(frozen=True)
class Settings:
    backend: BackendSettings = field(default_factory=BackendSettings)
    dictation: DictationSettings = field(default_factory=DictationSettings)
    overlay: OverlaySettings = field(default_factory=OverlaySettings)
    startup: StartupSettings = field(default_factory=StartupSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)
    history: HistorySettings = field(default_factory=HistorySettings)
    sounds: SoundSettings = field(default_factory=SoundSettings)


def to_toml_dict(settings: Settings) -> dict[str, Any]:
    """The settings as TOML-ready tables (unset and empty values left out)."""
    tables: dict[str, Any] = {}
    for section in fields(Settings):
        values = getattr(settings, section.name)
        table: dict[str, Any] = {}
        for f in fields(values):
            value = getattr(values, f.name)
            if value is None or value == "":
                continue
            table[f.name] = _to_toml_value(value)
        tables[section.name] = table
    return tables


def from_toml_dict(data: dict[str, Any]) -> Settings:
    """Settings from parsed TOML; unknown keys are ignored, wrong values are errors."""
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    for section in fields(Settings):
        raw = data.get(section.name, {})
        if not isinstance(raw, dict):
            raise SettingsError(f"[{section.name}] must be a table")
        cls = hints[section.name]
        sections[section.name] = _section_from_toml(section.name, cls, raw)
    return Settings(**sections)


_Section = TypeVar("_Section")
_KINDS = {str: "a string", bool: "true or false", float: "a number", int: "a whole number"}


def _section_from_toml(name: str, cls: type[_Section], raw: dict[str, Any]) -> _Section:
    assert is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in raw:
            values[f.name] = _from_toml_value(f"{name}.{f.name}", hints[f.name], raw[f.name])
    return cls(**values)


def _to_toml_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return list(value)
    return value


def _from_toml_value(key: str, hint: Any, value: Any) -> Any:
    """Check ``value`` against the field's type and convert it (enums, tuples)."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    wanted = next(t for t in options if t is not type(None))
    if isinstance(wanted, type) and issubclass(wanted, Enum):
        choices = [member.value for member in wanted]
        if value not in choices:
            raise SettingsError(f"{key} {value!r} is not one of {', '.join(choices)}")
        return wanted(value)
    if typing.get_origin(wanted) is tuple:
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise SettingsError(f"{key} must be a list of whole numbers, not {value!r}")
        return tuple(value)
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
        kind = _KINDS.get(wanted, wanted.__name__)
        raise SettingsError(f"{key} must be {kind}, not {value!r}")
    return value
