"""mabgui: build and inspect multi-architecture container images."""

from typing import Any

APP_NAME = "mabgui"
APP_ID = "io.github.mabgui.Mabgui"


def installed_version() -> str:
    """The version in mabgui's installed metadata, read directly (~1 ms).

    ``importlib.metadata.version`` finds the same file (the first ``mabgui-*.dist-info`` on
    ``sys.path``) but costs ~14 ms of imports and discovery, paid by every registry command for
    its User-Agent; it stays the fallback.
    """
    import os
    import sys

    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except OSError:  # a zip file, a missing folder
            continue
        for name in names:
            if not (name.startswith("mabgui-") and name.endswith(".dist-info")):
                continue
            try:
                with open(os.path.join(folder, name, "METADATA"), encoding="utf-8") as fh:
                    for line in fh:
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():  # the end of the headers
                            break
            except OSError:
                continue
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mabgui")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0.0.0+source"


def __getattr__(name: str) -> Any:
    # ``__version__`` is looked up on first use: the window's start-up does not need it before
    # its first paint.
    if name == "__version__":
        value = installed_version()
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
