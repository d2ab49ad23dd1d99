"""Options and output shared by the ``kyutai-dictate`` commands: the program's name, number
types for argparse, the log level."""

from __future__ import annotations

import argparse
import logging
import math
import sys

PROG = "kyutai-dictate"
LOG_LEVELS = ("debug", "info", "warning", "error")


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A positive, finite number of seconds."""
    value = number(text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def real_time_factor(text: str) -> float:
    """A multiple of real time; 0 or inf: no pacing."""
    value = number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 or inf: no pacing), got {text!r}")
    return value


def number(text: str) -> float:
    """Any number."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_log_level(parser: argparse.ArgumentParser, default: str | None) -> None:
    """``--log-level``, before or after a command."""
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.lower,
        default=default,
        help="log to stderr from this level on (default: warning; info for serve)",
    )


def configure_logging(level: str) -> None:
    """Log to stderr from ``level`` on."""
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
