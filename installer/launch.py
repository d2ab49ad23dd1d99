"""The bundle's entry point: the ``kyutai-dictate`` command line (PyInstaller runs this file)."""

import sys

from app.cli.main import main

sys.exit(main())
