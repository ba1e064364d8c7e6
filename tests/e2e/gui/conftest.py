"""GUI tests on the real engine: the Qt fixtures of tests/gui (offscreen app, qasync loop,
isolated settings, no leaked windows) for the views driven against dockerd, buildx and the
registry."""

from tests.gui.conftest import (  # noqa: F401 - fixtures registered for this folder
    isolated_settings,
    no_leaked_windows,
    qloop,
)
