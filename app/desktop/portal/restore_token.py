"""Where the RemoteDesktop portal's restore token is kept: the app's state directory.

The token is no secret (it only works for this app, and once), and no setting either: the
portal hands a new one at every start, so it lives beside the app's other state
(``$XDG_STATE_HOME/kyutai-dictate/portal-restore-token``), never in the settings file.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from app.desktop.atomic_file import write_atomically

FILE_NAME = "portal-restore-token"


def default_path() -> Path:
    return Path(platformdirs.user_state_dir("kyutai-dictate", appauthor=False)) / FILE_NAME


class RestoreTokenStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def load(self) -> str | None:
        """The token the portal gave last, or None (none yet, or unreadable)."""
        try:
            token = self.path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return token or None

    def save(self, token: str | None) -> None:
        """Keep ``token`` for the next start (None: forget the used one)."""
        if token:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, token + "\n", mode=0o600)
        else:
            self.path.unlink(missing_ok=True)
