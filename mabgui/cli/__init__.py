"""The headless front end, one module per area; ``main`` is the entry point."""

from mabgui.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
