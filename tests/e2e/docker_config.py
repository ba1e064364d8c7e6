"""A private ``DOCKER_CONFIG`` that keeps the buildx plugin of the one it replaces.

Builders made by a test live in its own config dir, out of other tests' sight. The docker CLI
finds plugins in ``$DOCKER_CONFIG/cli-plugins`` first: CI's compatibility pass points that at
Debian's buildx 0.13.1, so a private config links the same folder to test that version too.
"""

from __future__ import annotations

import os
from pathlib import Path


def private_config(path: Path) -> Path:
    """Prepare ``path`` as a DOCKER_CONFIG with the current one's ``cli-plugins`` (if any)."""
    path.mkdir(parents=True, exist_ok=True)
    outer = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
    plugins = Path(outer) / "cli-plugins"
    if plugins.is_dir() and not (path / "cli-plugins").exists():
        (path / "cli-plugins").symlink_to(plugins.resolve(), target_is_directory=True)
    return path
