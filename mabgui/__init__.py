"""mabgui: build and inspect multi-architecture container images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mabgui")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+source"

APP_NAME = "mabgui"
APP_ID = "io.github.mabgui.Mabgui"
