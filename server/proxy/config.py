"""Proxy configuration: command-line flags over environment variables over defaults.

This is the one module that reads the proxy's environment variables.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from server.models import MODELS, ModelProfile, model_profile
from server.proxy.channel import Transport

ENV_PREFIX = "KYUTAI_DICTATE_"
MOSHI_AUDIO_TIMEOUT = 120.0  # moshi-server ends a session after this long without audio
_T = TypeVar("_T", str, int, float)


@dataclass(frozen=True)
class ProxyConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    backend_url: str = "ws://127.0.0.1:8998/api/asr-streaming"
    backend_key: str = "public_token"
    model: ModelProfile = MODELS["stt-1b-en_fr"]
    idle_timeout: float = 10.0
    max_message_bytes: int = 1 << 20
    tokens: frozenset[str] = frozenset()
    no_auth: bool = False
    wait_backend: bool = False  # listen only once the backend has said Ready (deploy health)
    backend_timeout: float = 60.0  # how long a stream waits for the backend's Ready
    startup_timeout: float = 1800.0  # with wait_backend: how long start-up waits (cold model)
    ping_interval: float = 5.0  # keepalive when nothing else was sent for this long
    max_buffered_seconds: float = 120.0  # client audio held while the backend gets ready
    shutdown_grace: float = 15.0  # how long SIGTERM waits for streams to flush
    stall_timeout: float = 30.0  # backend slots held by no stream this long: its loop is stuck
    health_interval: float = 5.0  # how often the backend's slots are checked
    backend_ping_timeout: float = 20.0  # a backend that answers no ping this long is frozen
    exit_when_stalled: bool = False  # exit (code 3) on a stuck backend, so it is restarted
    transport: Transport = Transport.PICOWS  # the WebSocket library of the streams
    workers: int = 1  # proxy processes sharing the port (SO_REUSEPORT)
    reuse_port: bool = False  # listen with SO_REUSEPORT (set for each of several workers)
    keepalive_interval: float = 20.0  # WebSocket pings this often; no pong as long: cut
    # Bounds on one client (docs/SECURITY.md): a client that does not read loses its stream.
    send_timeout: float = 10.0  # a send to a client that blocks this long drops the client
    max_client_buffer: int = 1 << 20  # bytes queued for a client (pongs too) before it is dropped
    # Brakes on abuse, keyed on the token where auth is on, else on the client's address.
    max_connections: int = 512  # concurrent connections per key
    max_failed_auth: int = 20  # failed auth attempts per address in auth_window...
    auth_window: float = 60.0  # ...before the address gets 429 until the window has passed
    max_audio_speed: float = 8.0  # audio faster than this x real time on average is slowed...
    audio_burst_seconds: float = 120.0  # ...once a stream is this many seconds ahead

    @property
    def backend_for_logs(self) -> str:
        """The backend URL without user info or query (``?auth_id=`` would be a key)."""
        url = urlsplit(self.backend_url)
        host = url.hostname or ""
        host = f"[{host}]" if ":" in host else host
        netloc = f"{host}:{url.port}" if url.port else host
        return urlunsplit((url.scheme, netloc, url.path, "", ""))

    def __repr__(self) -> str:  # never show tokens or keys
        return (
            f"ProxyConfig(listen={self.host}:{self.port}, backend={self.backend_for_logs}, "
            f"model={self.model.name}, tokens={len(self.tokens)}, no_auth={self.no_auth}, "
            f"transport={self.transport.value}, workers={self.workers})"
        )

    def validate(self) -> None:
        """Raise ValueError for a configuration that must not run."""
        if not (0 <= self.port < 65536):
            raise ValueError(f"port {self.port} is out of range")
        timeouts = [self.idle_timeout, self.backend_timeout, self.startup_timeout]
        timeouts += [self.stall_timeout, self.health_interval, self.send_timeout, self.auth_window]
        timeouts += [self.backend_ping_timeout, self.keepalive_interval]
        if min(timeouts) <= 0 or self.shutdown_grace < 0:
            raise ValueError("timeouts must be positive")
        if self.idle_timeout >= MOSHI_AUDIO_TIMEOUT:
            raise ValueError(
                f"idle timeout must be under {MOSHI_AUDIO_TIMEOUT:g} s: moshi-server drops a "
                "session that long without audio, and the words still in the model with it"
            )
        if min(self.max_client_buffer, self.max_connections, self.max_failed_auth) < 1:
            raise ValueError("client buffer, connection and auth limits must be at least 1")
        if self.max_audio_speed < 1 or self.audio_burst_seconds < 0:
            raise ValueError("the audio speed limit must be at least 1 (real time)")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.workers > 1 and self.port == 0:
            raise ValueError("several workers need a fixed port (not 0)")
        if self.max_message_bytes < 4:
            raise ValueError("max message size must be at least 4 bytes")
        if not self.backend_url.startswith(("ws://", "wss://")):
            raise ValueError(f"backend URL must start with ws:// or wss://: {self.backend_url}")
        if not self.tokens and not self.no_auth and not is_loopback(self.host):
            raise ValueError(
                f"refusing to listen on {self.host} without authentication: set "
                f"{ENV_PREFIX}TOKENS or --token-file, or pass --no-auth to run open"
            )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# flag name -> (environment variable, type, help)
_OPTIONS: dict[str, tuple[str, type, str]] = {
    "host": ("HOST", str, "address to listen on"),
    "port": ("PORT", int, "port to listen on"),
    "backend": ("BACKEND", str, "moshi-server WebSocket URL"),
    "backend_key": ("BACKEND_KEY", str, "moshi-server API key (kyutai-api-key)"),
    "model": ("MODEL", str, f"model served by the backend ({', '.join(MODELS)})"),
    "idle_timeout": ("IDLE_TIMEOUT", float, "seconds without audio before a stream is closed"),
    "max_message_bytes": ("MAX_MESSAGE_BYTES", int, "largest client message accepted"),
    "backend_timeout": ("BACKEND_TIMEOUT", float, "seconds a stream waits for the backend's Ready"),
    "startup_timeout": (
        "STARTUP_TIMEOUT",
        float,
        "with --wait-backend: seconds start-up waits for the model",
    ),
    "token_file": ("TOKEN_FILE", str, "file with one accepted bearer token per line"),
    "stall_timeout": (
        "STALL_TIMEOUT",
        float,
        "seconds backend slots may be held by no stream before the backend counts as stalled",
    ),
    "health_interval": ("HEALTH_INTERVAL", float, "seconds between checks of the backend"),
    "shutdown_grace": ("SHUTDOWN_GRACE", float, "seconds SIGTERM waits for streams to flush"),
    "send_timeout": (
        "SEND_TIMEOUT",
        float,
        "seconds a send to a client may block before the client is dropped",
    ),
    "max_client_buffer": (
        "MAX_CLIENT_BUFFER",
        int,
        "bytes queued for a client that does not read before it is dropped",
    ),
    "max_connections": (
        "MAX_CONNECTIONS",
        int,
        "concurrent connections per token (per address without auth)",
    ),
    "max_failed_auth": (
        "MAX_FAILED_AUTH",
        int,
        "failed auth attempts per address within --auth-window before HTTP 429",
    ),
    "auth_window": ("AUTH_WINDOW", float, "seconds over which failed auth attempts count"),
    "max_audio_speed": (
        "MAX_AUDIO_SPEED",
        float,
        "audio faster than this many times real time (on average) is slowed down",
    ),
    "audio_burst_seconds": (
        "AUDIO_BURST_SECONDS",
        float,
        "seconds of audio a stream may send ahead of --max-audio-speed before it is slowed",
    ),
    "transport": (
        "TRANSPORT",
        str,
        f"WebSocket library for the streams ({', '.join(t.value for t in Transport)}); "
        "picows parses frames in compiled code: about three quarters of websockets' CPU a stream",
    ),
    "workers": ("WORKERS", int, "proxy processes sharing the port (SO_REUSEPORT), e.g. one a core"),
}


_LIMITS = (
    "shutdown_grace",
    "send_timeout",
    "max_client_buffer",
    "max_connections",
    "max_failed_auth",
    "auth_window",
    "max_audio_speed",
    "audio_burst_seconds",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the proxy's flags; each defaults to its ``KYUTAI_DICTATE_*`` environment variable."""
    defaults = ProxyConfig()
    shown = {
        "host": defaults.host,
        "port": defaults.port,
        "backend": defaults.backend_url,
        "backend_key": defaults.backend_key,
        "model": defaults.model.name,
        "idle_timeout": defaults.idle_timeout,
        "max_message_bytes": defaults.max_message_bytes,
        "backend_timeout": defaults.backend_timeout,
        "startup_timeout": defaults.startup_timeout,
        "token_file": None,
        "stall_timeout": defaults.stall_timeout,
        "health_interval": defaults.health_interval,
        "shutdown_grace": defaults.shutdown_grace,
        "send_timeout": defaults.send_timeout,
        "max_client_buffer": defaults.max_client_buffer,
        "max_connections": defaults.max_connections,
        "max_failed_auth": defaults.max_failed_auth,
        "auth_window": defaults.auth_window,
        "max_audio_speed": defaults.max_audio_speed,
        "audio_burst_seconds": defaults.audio_burst_seconds,
        "transport": defaults.transport.value,
        "workers": defaults.workers,
    }
    for name, (env, kind, text) in _OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        default = shown[name]
        parser.add_argument(
            flag, type=kind, default=None, help=f"{text} (${ENV_PREFIX}{env}; default {default})"
        )
    parser.add_argument(
        "--wait-backend",
        action="store_true",
        default=None,
        help="start listening only once the backend's model is ready, so that an open port "
        f"means a working service (${ENV_PREFIX}WAIT_BACKEND=1)",
    )
    parser.add_argument(
        "--exit-when-stalled",
        action="store_true",
        default=None,
        help="exit with status 3 when the backend's model loop has stopped (slots held by no "
        f"stream), so that the service manager restarts it (${ENV_PREFIX}EXIT_WHEN_STALLED=1)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        default=None,
        help=f"allow a non-loopback address without tokens (${ENV_PREFIX}NO_AUTH=1)",
    )


def from_arguments(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> ProxyConfig:
    """Build the configuration from parsed flags, falling back to ``env`` (os.environ)."""
    environ: Mapping[str, str] = os.environ if env is None else env

    def pick(name: str, default: _T) -> _T:
        value = getattr(args, name, None)
        if value is not None:
            return type(default)(value)
        env_name, kind, _ = _OPTIONS[name]
        raw = environ.get(ENV_PREFIX + env_name, "")
        if raw == "":
            return default
        try:
            return type(default)(raw)
        except ValueError:
            raise ValueError(
                f"{ENV_PREFIX}{env_name}={raw!r} is not a valid {kind.__name__}"
            ) from None

    defaults = ProxyConfig()
    tokens = {t.strip() for t in environ.get(ENV_PREFIX + "TOKENS", "").split(",") if t.strip()}
    token_file = pick("token_file", "")
    if token_file:
        tokens |= read_token_file(Path(token_file))
    no_auth = args.no_auth or _flag(environ, "NO_AUTH")
    wait_backend = getattr(args, "wait_backend", None) or _flag(environ, "WAIT_BACKEND")
    exit_when_stalled = getattr(args, "exit_when_stalled", None) or _flag(
        environ, "EXIT_WHEN_STALLED"
    )
    transport = pick("transport", defaults.transport.value)
    try:
        chosen = Transport(transport)
    except ValueError:
        choices = ", ".join(t.value for t in Transport)
        raise ValueError(f"unknown transport {transport!r} (choose {choices})") from None
    config = ProxyConfig(
        host=pick("host", defaults.host),
        port=pick("port", defaults.port),
        backend_url=pick("backend", defaults.backend_url),
        backend_key=pick("backend_key", defaults.backend_key),
        model=model_profile(pick("model", defaults.model.name)),
        idle_timeout=pick("idle_timeout", defaults.idle_timeout),
        max_message_bytes=pick("max_message_bytes", defaults.max_message_bytes),
        backend_timeout=pick("backend_timeout", defaults.backend_timeout),
        startup_timeout=pick("startup_timeout", defaults.startup_timeout),
        tokens=frozenset(tokens),
        no_auth=bool(no_auth),
        wait_backend=bool(wait_backend),
        stall_timeout=pick("stall_timeout", defaults.stall_timeout),
        health_interval=pick("health_interval", defaults.health_interval),
        exit_when_stalled=bool(exit_when_stalled),
        **{name: pick(name, getattr(defaults, name)) for name in _LIMITS},
        transport=chosen,
        workers=pick("workers", defaults.workers),
    )
    config.validate()
    return config


def _flag(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(ENV_PREFIX + name, "").lower() in {"1", "true", "yes"}


def read_token_file(path: Path) -> set[str]:
    """Tokens from a file, one per line; blank lines and ``#`` comments are skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read token file {path}: {exc.strerror}") from None
    tokens = {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}
    if not tokens:
        raise ValueError(f"token file {path} holds no token")
    return tokens
