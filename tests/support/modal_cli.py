"""The ``modal`` command, as strict as modal 1.6, without Modal: a parser and a stand-in.

:func:`parse` reads a command line with the real client's own click commands
(``modal.cli.entry_point.entrypoint_cli``) and never invokes them, so a command line the real
CLI would refuse fails here with the real CLI's message.

Run as a module (``tests/support/modal_stand_in/modal`` does), it is the stand-in: it records
each call in ``$STANDIN_LOG`` with the deploy settings it was given, parses the arguments like
the real CLI (exit 2 with click's message) and answers the commands this project uses as
modal 1.6 does:

- ``deploy``: the progress lines of modal/cli/run.py; ``$STANDIN_WEB_URL`` replaces the web
  endpoint's URL (a local proxy).
- ``app list``: one deployed app.
- ``app stop``: without ``--yes`` it asks first, like modal/cli/app.py's ``stop`` through
  ``confirm_or_suggest_yes`` (modal/cli/utils.py): with stdin not a terminal it prints the
  question and exits 1 with "Aborted: no interactive terminal detected. Rerun with --yes (-y)
  to skip confirmation."
"""

from __future__ import annotations

import os
import shlex
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import click
from modal.cli.entry_point import entrypoint_cli


def parse(args: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The command's path (``"app stop"``) and its parameters; raises ``click.ClickException``
    (``UsageError``, ``NoSuchOption``, ...) where the real CLI would refuse the line."""
    ctx = entrypoint_cli.make_context("modal", list(args))
    command: click.Command = entrypoint_cli
    path: list[str] = []
    while isinstance(command, click.Group):
        with warnings.catch_warnings():  # click 8.2+ deprecates reading protected_args
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = [*ctx.protected_args, *ctx.args]
        if not rest:
            raise click.UsageError("Missing command.", ctx)
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None
        assert sub is not None
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub
    if ctx.args:
        raise click.UsageError(f"Got unexpected extra arguments ({' '.join(ctx.args)})", ctx)
    return " ".join(path), dict(ctx.params)


def main(args: Sequence[str]) -> int:
    env = os.environ
    with open(env["STANDIN_LOG"], "a", encoding="utf-8") as log:
        settings = (
            f"gpu={env.get('KYUTAI_GPU', '')} batch={env.get('BATCH_SIZE', '')} "
            f"model={env.get('MODEL_NAME', '')} app={env.get('KYUTAI_DICTATE_APP_NAME', '')}"
        )
        log.write(f"{shlex.join(['modal', *args])} | {settings}\n")
    try:
        command, params = parse(args)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    if command == "deploy":
        app = env.get("KYUTAI_DICTATE_APP_NAME", "kyutai-dictate")
        url = env.get("STANDIN_WEB_URL", f"https://me--{app}.modal.run")
        print("✓ Created objects.")
        print(f"└── 🔨 Created web function serve => {url}")
        print("✓ App deployed in 1.234s! 🎉")
        print(f"View Deployment: https://modal.com/apps/me/main/deployed/{app}")
    elif command == "app list":
        print("ap-123  kyutai-dictate  deployed  1")
    elif command == "app stop":
        if not params["yes"]:
            question = f"Are you sure you want to stop App '{params['app_identifier']}'?"
            question += " No containers are currently running."
            if not sys.stdin.isatty():
                print(f"{question} [y/N]: ")
                print(
                    "Aborted: no interactive terminal detected. "
                    "Rerun with --yes (-y) to skip confirmation.",
                    file=sys.stderr,
                )
                return 1
            if not click.confirm(question, default=False):
                print("Aborted!", file=sys.stderr)
                return 1
    else:
        print(f"modal stand-in: `modal {command}` is not emulated", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
