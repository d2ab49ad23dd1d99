"""Failures the command line reports as one line on stderr, without a traceback."""

from __future__ import annotations


class AppError(Exception):
    """A failure fit to show the user; the command exits with ``exit_code``."""

    exit_code = 1


class UsageError(AppError):
    """The command line or its configuration is wrong (exit code 2)."""

    exit_code = 2
