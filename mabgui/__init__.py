"""mabgui: build and inspect multi-architecture container images."""

from typing import Any

APP_NAME = "mabgui"
APP_ID = "io.github.mabgui.Mabgui"


def __getattr__(name: str) -> Any:
    # ``__version__`` is looked up on first use: importlib.metadata costs ~15 ms, which the
    # window's start-up does not need to pay before its first paint.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("mabgui")
        except PackageNotFoundError:  # pragma: no cover - a source tree without install
            value = "0.0.0+source"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
