"""``python -m app``: the same as the ``kyutai-dictate`` command."""

import sys

from app.cli.main import main

sys.exit(main())
