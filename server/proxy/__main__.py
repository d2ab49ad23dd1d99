"""``python -m server.proxy``: the proxy alone, for servers that ship only the ``server`` package
(the Modal image, a Proxmox container). Same flags as ``kyutai-dictate serve``."""

import argparse
import sys

from server.proxy import cli

parser = argparse.ArgumentParser(prog="python -m server.proxy", description=__doc__)
parser.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
cli.add_arguments(parser)
sys.exit(cli.run(parser.parse_args()))
