"""The ``mabgui`` command: with no argument at all the window, else the CLI.

The window is opened without importing the CLI (argparse, asyncio, every command module:
~50 ms before the first paint); anything else goes through :func:`mabgui.cli.main.main`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:
        from mabgui.ui import app

        return app.main()
    from mabgui.cli.main import main as cli_main

    return cli_main(words)
