"""Entry point of the frozen app (PyInstaller): ``mabgui``, the window when no subcommand."""

import sys

from mabgui.cli.entry import main

if __name__ == "__main__":
    # Finder on old macOS versions passes a process serial number; it is not an option of ours.
    argv = [a for a in sys.argv[1:] if not a.startswith("-psn_")]
    raise SystemExit(main(argv))
