"""GNOME's settings for real, without GNOME: the real ``gsettings`` (GLib's tool) with the
keyfile backend, and the two schemas of gnome-settings-daemon's custom shortcuts compiled by
``glib-compile-schemas`` into a folder of the test's own.

The schemas say what gnome-settings-daemon's
``org.gnome.settings-daemon.plugins.media-keys.gschema.xml`` says of the keys the app uses:
``custom-keybindings`` (``as``, default ``[]``) at ``/org/gnome/settings-daemon/plugins/
media-keys/``, and the relocatable ``...media-keys.custom-keybinding`` with the strings
``name``, ``command`` and ``binding``. Nothing else of GNOME is here: no shell reads them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

MEDIA_KEYS_SCHEMAS = """<schemalist>
  <schema id="org.gnome.settings-daemon.plugins.media-keys"
          path="/org/gnome/settings-daemon/plugins/media-keys/">
    <key name="custom-keybindings" type="as"><default>[]</default></key>
  </schema>
  <schema id="org.gnome.settings-daemon.plugins.media-keys.custom-keybinding">
    <key name="name" type="s"><default>''</default></key>
    <key name="command" type="s"><default>''</default></key>
    <key name="binding" type="s"><default>''</default></key>
  </schema>
</schemalist>
"""


def gnome_settings(folder: Path, media_keys: bool = True) -> dict[str, str]:
    """The environment for ``gsettings`` to keep its values under ``folder``; with
    ``media_keys``, the custom-shortcut schemas are installed (else they are unknown)."""
    schemas = folder / "schemas"
    schemas.mkdir(parents=True)
    if media_keys:
        xml = schemas / "org.gnome.settings-daemon.plugins.media-keys.gschema.xml"
        xml.write_text(MEDIA_KEYS_SCHEMAS, encoding="utf-8")
        subprocess.run(["glib-compile-schemas", str(schemas)], check=True)
    return {
        "GSETTINGS_SCHEMA_DIR": str(schemas),
        "GSETTINGS_BACKEND": "keyfile",  # $XDG_CONFIG_HOME/glib-2.0/settings/keyfile
        "XDG_CONFIG_HOME": str(folder / "config"),
    }


def gsettings_get(env: dict[str, str], schema: str, key: str) -> str:
    done = subprocess.run(
        ["gsettings", "get", schema, key], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
