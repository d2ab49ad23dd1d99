"""The ``kyutai-dictate`` command line: one subcommand per entry in :data:`COMMANDS`.

Only the chosen command declares its options (``serve`` takes them from ``server.proxy.cli``)
and each command imports its implementation when it runs, so ``kyutai-dictate devices`` loads
neither websockets nor the proxy. To add a command, write its ``add_arguments`` and ``run``
functions (here, or in a module of their own as :mod:`app.cli.deploy_command` does) and list
them in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli import (
    deploy_command,
    doctor,
    engine_command,
    history_command,
    shortcut,
    words_command,
)
from app.cli.options import (
    PROG,
    add_log_level,
    configure_logging,
    positive_float,
    positive_int,
    real_time_factor,
)
from app.core.commands import RemoteCommand
from app.core.errors import AppError, UsageError
from app.desktop.version import version

if TYPE_CHECKING:
    from app.core.endpoint import Endpoint
    from app.core.settings import ServerProtocol
    from app.core.voice_edits import Rule
    from server.models import ModelProfile


@dataclass(frozen=True, slots=True)
class Command:
    """A subcommand: its help line, how it declares its options, and how it runs."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]
    log_level: str = "warning"  # unless --log-level says otherwise


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for usage errors)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(only=_chosen_command(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or argparse reporting a usage error
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    command = _COMMANDS_BY_NAME.get(args.command or "", _APP)
    args.log_level = args.log_level or command.log_level
    configure_logging(args.log_level)
    who = f"{PROG} {command.name}".rstrip()
    try:
        return command.run(args)
    except AppError as exc:
        print(f"{who}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{who}: interrupted", file=sys.stderr)
        return 130


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser with every subcommand; with ``only``, just that one has options."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Dictation with Kyutai's streaming speech-to-text on your own GPU."
    )
    add_log_level(parser, default=None)
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    if only is None:
        _add_app_arguments(parser)
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = subcommands.add_parser(command.name, help=command.help, description=command.help)
        # Also accepted after the command; SUPPRESS keeps the value given before it otherwise.
        # (Each subparser gets its own action: set_defaults on one must not reach the others.)
        add_log_level(sub, default=argparse.SUPPRESS)
        if only is None or only == command.name:
            command.add_arguments(sub)
    return parser


def _chosen_command(argv: Sequence[str]) -> str | None:
    """The first argument that names a command (no top-level option takes such a value)."""
    return next((arg for arg in argv if arg in _COMMANDS_BY_NAME), None)


# --- the desktop app (no command) and its remote control -----------------------------------


def _add_app_arguments(parser: argparse.ArgumentParser) -> None:
    app = parser.add_argument_group("the desktop app (no COMMAND), for this run only")
    app.add_argument("--config", type=Path, help="settings file (default: the user's config.toml)")
    app.add_argument("--url", help="backend WebSocket URL (a /v1/stream proxy or moshi-server)")
    app.add_argument("--hotkey", help="push-to-talk chord, e.g. <f9> or <ctrl>+<alt>+d")
    app.add_argument(
        "--mode",
        choices=("hold", "toggle", "hands-free"),
        help="hold to talk; press twice; or press once and it stops when you stop speaking",
    )
    app.add_argument(
        "--local",
        action="store_true",
        help="start the model on this computer (kyutai-dictate engine) and dictate with it",
    )
    app.add_argument(
        "--checkpoint", type=Path, help="with --local: a local checkpoint directory to load"
    )


def _run_app(args: argparse.Namespace) -> int:
    from app.ui.main import run_app

    if args.url:
        from app.core.endpoint import check_ws_url

        check_ws_url(args.url, "--url")
    if args.checkpoint and not args.local:
        raise UsageError("--checkpoint goes with --local")
    if args.local and args.url:
        raise UsageError("--local and --url both choose the backend: give one")
    local = args.checkpoint or args.local
    return run_app(args.config, args.url, args.hotkey, args.mode, local)


def _add_no_arguments(parser: argparse.ArgumentParser) -> None:
    del parser


def _remote(command: RemoteCommand) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from app.desktop.control_client import send_command

        send_command(command)
        return 0

    return run


_APP = Command("", "run the desktop app", _add_app_arguments, _run_app, log_level="warning")


# --- transcribe ---------------------------------------------------------------------------


def _add_transcribe_arguments(parser: argparse.ArgumentParser) -> None:
    _add_endpoint_arguments(parser)
    source = parser.add_argument_group("audio source (default: the microphone)")
    source.add_argument("--file", type=Path, help="stream this audio file instead (WAV, FLAC...)")
    source.add_argument(
        "--rtf",
        type=real_time_factor,
        help="with --file: speed as a multiple of real time (default 1; 0 or inf: no pacing)",
    )
    source.add_argument(
        "--device", help="microphone: index or (part of the) name, see 'kyutai-dictate devices'"
    )
    parser.add_argument(
        "--raw", action="store_true", help="print the words as spoken (no commands, no rules)"
    )
    parser.add_argument(
        "--config", type=Path, help="settings file whose words.txt to use (default: the user's)"
    )


def _run_transcribe(args: argparse.Namespace) -> int:
    from app.cli.transcribe import TranscribeOptions, run_transcribe

    if args.file is None and args.rtf is not None:
        raise UsageError("--rtf applies to --file only")
    if args.file is not None and args.device is not None:
        raise UsageError("--device applies to the microphone, not to --file")
    options = TranscribeOptions(
        endpoint=_endpoint(args),
        file=args.file,
        rtf=1.0 if args.rtf is None else args.rtf,
        device=args.device,
        open_timeout=args.open_timeout,
        drain_timeout=args.drain_timeout,
        protocol=_protocol(args),
        model=_model(args),
        raw=args.raw,
        rules=() if args.raw else tuple(_rules(args.config)),
    )
    return run_transcribe(options)


def _rules(config: Path | None) -> list[Rule]:
    from app.core.word_rules import RulesError
    from app.desktop import words_store

    try:
        return words_store.load(words_store.default_path(config))
    except RulesError as exc:
        raise UsageError(str(exc)) from None


# --- devices ------------------------------------------------------------------------------


def _add_devices_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options


def _run_devices(args: argparse.Namespace) -> int:
    from app.cli.devices import run_devices

    return run_devices()


# --- bench --------------------------------------------------------------------------------


def _add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    _add_endpoint_arguments(parser)
    bench = parser.add_argument_group("benchmark")
    bench.add_argument("--file", type=Path, required=True, help="audio file to stream (speech)")
    bench.add_argument(
        "-p", "--parallel", type=positive_int, default=4, help="simultaneous streams (default 4)"
    )
    bench.add_argument(
        "--runs", type=positive_int, default=3, help="rounds of parallel streams (default 3)"
    )
    bench.add_argument(
        "--rtf",
        type=real_time_factor,
        default=1.0,
        help="speed as a multiple of real time (default 1, as a microphone; 0 or inf: no pacing)",
    )
    bench.add_argument("--json", action="store_true", help="print one JSON object instead")
    bench.add_argument("--output", type=Path, help="also write the JSON report to this file")
    bench.add_argument(
        "--compare-gpus",
        metavar="GPUS",
        help="comma-separated Modal GPU types (e.g. L4,L40S,A10G): deploy one app per GPU, "
        "benchmark each, print one table, stop them (needs a Modal token, MODAL_KEY/MODAL_SECRET)",
    )


def _run_bench(args: argparse.Namespace) -> int:
    from app.cli.bench import BenchOptions, run_bench
    from app.core.endpoint import Endpoint

    compare = [gpu.strip() for gpu in (args.compare_gpus or "").split(",") if gpu.strip()]
    options = BenchOptions(
        endpoint=Endpoint("wss://deployed-per-gpu") if compare else _endpoint(args),
        file=args.file,
        parallel=args.parallel,
        runs=args.runs,
        rtf=args.rtf,
        json=args.json,
        output=args.output,
        open_timeout=args.open_timeout,
        drain_timeout=args.drain_timeout,
        protocol=_protocol(args),
        model=_model(args),
    )
    if compare:
        from app.cli.bench_compare import compare_gpus

        return compare_gpus(compare, options, dict(os.environ))
    return run_bench(options)


# --- serve --------------------------------------------------------------------------------


def _add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    from server.proxy import cli as proxy_cli  # loaded for 'serve' only

    proxy_cli.add_arguments(parser)


def _run_serve(args: argparse.Namespace) -> int:
    from server.proxy import cli as proxy_cli

    return int(proxy_cli.run(args))


COMMANDS: tuple[Command, ...] = (
    Command(
        "transcribe",
        "stream the microphone (or a file) to the backend and print the words as they come",
        _add_transcribe_arguments,
        _run_transcribe,
    ),
    Command(
        "devices",
        "list the microphones (audio input devices)",
        _add_devices_arguments,
        _run_devices,
    ),
    Command(
        "bench",
        "measure latency with parallel streams of an audio file",
        _add_bench_arguments,
        _run_bench,
    ),
    Command(
        "deploy",
        "put the backend on Modal or a Proxmox host; status; stop",
        deploy_command.add_arguments,
        deploy_command.run,
        log_level="info",
    ),
    Command(
        "words",
        "your own words: list, add, remove, import or export the replacement rules",
        words_command.add_arguments,
        words_command.run,
    ),
    Command(
        "doctor",
        "check this desktop: typing and hotkey routes, tray, focus guard; a typing self-test",
        doctor.add_arguments,
        doctor.run,
    ),
    Command(
        "shortcut",
        "print, or with --install write, the desktop's key binding for push-to-talk (Wayland)",
        shortcut.add_arguments,
        shortcut.run,
    ),
    Command(
        "history",
        "print the dictation history (--json); 'history retry N' transcribes entry N again",
        history_command.add_arguments,
        history_command.run,
    ),
    Command(
        "engine",
        "run Kyutai's model on this computer behind moshi-server's protocol (needs torch)",
        engine_command.add_arguments,
        engine_command.run,
        log_level="info",
    ),
    Command(
        "serve",
        "run the /v1/stream proxy in front of a moshi-server",
        _add_serve_arguments,
        _run_serve,
        log_level="info",  # a service reports what it does
    ),
    *(
        Command(
            remote, f"{remote.help} (for desktop shortcuts)", _add_no_arguments, _remote(remote)
        )
        for remote in RemoteCommand
    ),
)
_COMMANDS_BY_NAME = {command.name: command for command in COMMANDS}


# --- shared options -----------------------------------------------------------------------


def _add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("backend")
    group.add_argument(
        "--url",
        help="WebSocket URL of the /v1/stream endpoint (ws:// or wss://); wins over --service",
    )
    group.add_argument(
        "--service",
        choices=("modal", "local"),
        help="modal: wss://$MODAL_WORKSPACE--$KYUTAI_DICTATE_MODAL_LABEL.modal.run with "
        "MODAL_KEY/MODAL_SECRET; local (default): $LOCAL_WS_URL or ws://127.0.0.1:8000/v1/stream",
    )
    group.add_argument(
        "--token",
        help="bearer token for a self-hosted proxy (default: $KYUTAI_DICTATE_TOKEN, which "
        "unlike this option does not show in the process list)",
    )
    group.add_argument(
        "--open-timeout",
        type=positive_float,
        default=60.0,
        metavar="SECONDS",
        help="give up connecting after this long (default 60: a cold GPU takes a while)",
    )
    group.add_argument(
        "--drain-timeout",
        type=positive_float,
        default=30.0,
        metavar="SECONDS",
        help="after the audio ends, wait this long for the last words (default 30)",
    )
    group.add_argument(
        "--protocol",
        choices=("auto", "current", "original"),
        default="auto",
        help="the server's protocol: auto (default; this project's proxy says so when "
        "connecting), current, or original (the kyutai_modal service: no end of stream)",
    )
    group.add_argument(
        "--model",
        choices=("stt-1b-en_fr", "stt-2.6b-en"),
        default="stt-1b-en_fr",
        help="with the original service: the model it serves (its delay sets how much silence "
        "pushes the last words out; default stt-1b-en_fr)",
    )


def _protocol(args: argparse.Namespace) -> ServerProtocol:
    from app.core.settings import ServerProtocol

    return ServerProtocol(args.protocol)


def _model(args: argparse.Namespace) -> ModelProfile:
    from server.models import model_profile

    return model_profile(args.model)


def _endpoint(args: argparse.Namespace) -> Endpoint:
    from app.core.endpoint import resolve_endpoint

    return resolve_endpoint(args.url, args.service, args.token, os.environ)
